"""The finder's pages: the question, the preview counted by category before anything is
frozen, freezing from the page, the incident page's section, who may use it, and the
queue export recording its people so the finder can name them."""

from __future__ import annotations

import zoneinfo

import pytest

from accounts.roles import Role
from audit import actions
from audit.models import AuditEvent
from debtors.services import data_access
from incidents.finder import Scope, ScopeKind, affected_find
from incidents.models import AffectedPerson
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt
from tests.incidents.finder_world import Traces, build_traces

pytestmark = pytest.mark.django_db


@pytest.fixture
def t(world) -> Traces:
    return build_traces(world)


def _url(t: Traces, tail: str = "") -> str:
    return f"/w/acme/incidents/{t.incident.reference}/finder/{tail}"


def _local(t: Traces, moment) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(t.world.a.timezone)).strftime("%Y-%m-%dT%H:%M")


def _question(t: Traces, **extra) -> dict:
    return {
        "scope": "user",
        "user": str(t.world.alice.pk),
        "start": _local(t, t.start),
        "end": _local(t, t.end),
        **extra,
    }


def test_the_page_offers_every_kind_of_question_and_this_workspaces_choices(t):
    response = login(t.world.alice).get(_url(t))
    assert response.status_code == 200
    body = response.content.decode()
    for kind in ScopeKind.values:
        assert f'value="{kind}"' in body
    assert "manager@example.com" in body and "Konkan Finance" in body and "Work queue CSV" in body
    assert "bob@example.com" not in body and "Lone Star" not in body  # nothing of Globex
    assert 'data-testid="finder-preview"' not in body  # nothing found before a question


def test_the_preview_counts_by_category_and_freezes_nothing(t):
    response = login(t.world.alice).get(_url(t), _question(t))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<span data-testid="preview-total">3</span>' in body
    categories = body.split('data-testid="preview-categories"')[1].split("</table>")[0]
    for label in ("Identity", "Contact details", "Financial", "Government identifier", "Communications content"):
        assert f'<th scope="row">{label}</th><td>1</td>' in categories
    assert "Freeze 3 people on" in body
    with workspace_context(t.world.a):
        assert not AffectedPerson.objects.for_workspace(t.world.a).exists()


def test_freezing_from_the_page_and_the_incident_page_shows_it(t):
    c = login(t.world.alice)
    response = c.post(_url(t, "freeze/"), _question(t))
    assert response.status_code == 302
    assert response["Location"] == f"/w/acme/incidents/{t.incident.reference}/#finder"
    with workspace_context(t.world.a):
        frozen = set(AffectedPerson.objects.for_workspace(t.world.a).values_list("debtor_id", flat=True))
    assert frozen == t.debtors("revealed", "noted", "paid")
    body = c.get(f"/w/acme/incidents/{t.incident.reference}/").content.decode()
    section = body.split('data-testid="finder"')[1]
    assert '<strong data-testid="finder-total">3</strong>' in section
    assert "Government identifier" in section and "Worked on (other audited actions)" in section
    assert 'hx-get="/w/acme/incidents/' in section  # a manager gets the finder loaded into it


def test_htmx_gets_the_section_alone(t):
    response = login(t.world.alice).get(_url(t), _question(t), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.strip().startswith('<section id="finder"') and body.strip().endswith("</section>")
    assert "<html" not in body and 'data-testid="finder-preview"' in body


def test_a_question_without_its_window_is_refused_with_the_reason(t):
    response = login(t.world.alice).get(_url(t), _question(t, start="", end=""))
    assert response.status_code == 400
    assert "Give the window" in response.content.decode()
    response = login(t.world.alice).post(_url(t, "freeze/"), _question(t, scope="export", export=""))
    assert response.status_code == 400
    assert "Choose one of this workspace" in response.content.decode()


def test_an_auditor_sees_what_was_frozen_but_cannot_search_or_freeze(t):
    auditor = add_member(t.world.a, "auditor@example.com", Role.AUDITOR)
    login(t.world.alice).post(_url(t, "freeze/"), _question(t))
    c = login(auditor)
    assert c.get(_url(t)).status_code == 403
    assert c.post(_url(t, "freeze/"), _question(t)).status_code == 403
    body = c.get(f"/w/acme/incidents/{t.incident.reference}/").content.decode()
    assert 'data-testid="finder-total">3<' in body and "hx-get" not in body.split('data-testid="finder"')[1]


def test_another_workspace_gets_404(t):
    bob = login(t.world.bob)
    assert bob.get(_url(t)).status_code == 404
    assert bob.post(_url(t, "freeze/"), _question(t)).status_code == 404
    assert bob.get(f"/w/globex/incidents/{t.incident.reference}/finder/").status_code == 404
    with workspace_context(t.world.a):
        assert not AffectedPerson.objects.for_workspace(t.world.a).exists()


def test_a_queue_export_records_its_people_in_parts_that_follow_it(world, monkeypatch):
    monkeypatch.setattr(data_access, "EXPORT_IDS_PER_EVENT", 2)
    with workspace_context(world.a):
        debts = [make_debt(world.a) for _ in range(3)]
    response = login(world.alice).get("/w/acme/debts/export.csv")
    assert len(b"".join(response.streaming_content).decode().strip().splitlines()) == 4  # type: ignore[attr-defined]
    export = AuditEvent.unscoped.get(workspace=world.a, action=actions.DEBTS_EXPORTED)
    assert export.metadata["people"] == 3 and export.metadata["parts"] == 2
    parts = AuditEvent.unscoped.filter(
        workspace=world.a, action=actions.PERSONAL_DATA_EXPORT, chain=export.chain, seq__gt=export.seq
    ).order_by("seq")
    assert [p.seq for p in parts] == [export.seq + 1, export.seq + 2]
    assert sorted(i for p in parts for i in p.metadata["ids"]) == sorted(str(d.debtor_id) for d in debts)
    assert all(p.actor_user_id == world.alice.pk for p in parts)
    found = affected_find(workspace=world.a, scope=Scope(ScopeKind.EXPORT, export_id=export.pk))
    assert set(found.people) == {d.debtor_id for d in debts}
    assert found.by_category == {"financial": 3}  # the queue CSV holds debt data, no contact details
