"""The legal holds page (/w/<slug>/retention/holds/) and the debt page's holds
section: who sees and does what (managers place, review and lift; auditors read and
every POST is refused; agents see a held debt's holds but nothing else; client users
see nothing), each form's errors, filters, pagination and the CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import actions
from audit.models import AuditEvent
from debtors.models import LegalHold
from debtors.services.debts import debt_assign
from kernel.tenancy import workspace_context
from retention.holds import legal_hold_lift, legal_hold_place
from tests.conftest import World, login
from tests.retention.ui_world import Floor, build_floor, held, in_days, make_debt

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def floor(world: World) -> Floor:
    return build_floor(world)


def url(f: Floor, suffix: str = "") -> str:
    return f"/w/{f.ws.slug}/retention/holds/{suffix}"


def hold_on(f: Floor, scope: str = "debt", *, review_in: int = 60, reason: str = "litigation", **target) -> LegalHold:
    with workspace_context(f.ws):
        if scope == "debt" and not target:
            target = {"debt": f.meera_1}
        return legal_hold_place(
            workspace=f.ws, scope=scope, reason=reason, review_on=in_days(review_in), actor=f.manager, **target
        )


def holds_in(f: Floor) -> list[LegalHold]:
    with workspace_context(f.ws):
        return list(LegalHold.objects.for_workspace(f.ws).order_by("placed_at"))


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


# --- Placing from the holds page ---------------------------------------------------------


def test_a_manager_places_a_hold_on_a_debt_by_reference_and_sees_it_listed(floor: Floor):
    manager = login(floor.manager)
    response = manager.post(
        url(floor),
        {
            "scope": "debt",
            "reference": "RAVI-1",
            "reason": "regulator_inquiry",
            "case_reference": "RBI/INQ/77",
            "review_on": in_days(30).isoformat(),
        },
    )
    assert response.status_code == 302
    assert held(floor.ws) == {"RAVI-1"}
    page = manager.get(response["Location"])
    text = page.content.decode()
    assert "Legal hold placed: Debt RAVI-1 (Konkan Finance)." in text
    assert "RBI/INQ/77" in text and "Regulator inquiry" in text and "manager@example.com" in text
    assert f"/w/acme/debts/{floor.ravi.pk}/" in text  # the debtor is revealed through the debt link only
    assert "Ravi" not in text


def test_portfolio_and_workspace_holds_from_the_holds_page(floor: Floor):
    manager = login(floor.manager)
    review = in_days(90).isoformat()
    manager.post(
        url(floor), {"scope": "portfolio", "client": floor.konkan.pk, "reason": "insolvency", "review_on": review}
    )
    assert held(floor.ws) == {"RAVI-1"}
    manager.post(url(floor), {"scope": "workspace", "reason": "audit", "review_on": review})
    assert held(floor.ws) == {"MEERA-1", "MEERA-2", "RAVI-1"}
    text = manager.get(url(floor)).content.decode()
    assert "Portfolio of Konkan Finance" in text and "The whole workspace" in text


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"scope": "debt", "reference": ""}, "Give the debt&#x27;s reference."),
        ({"scope": "debt", "reference": "NOPE-9"}, "No debt with the reference &#x27;NOPE-9&#x27;."),
        ({"scope": "debt", "reference": "ORV-1"}, "No debt with the reference"),  # workspace B's
        ({"scope": "portfolio"}, "Choose the client whose portfolio is held."),
        ({"scope": "debt", "reference": "RAVI-1", "review_on": "2020-01-01"}, "A review date after today"),
        ({"scope": "debt", "reference": "RAVI-1", "reason": ""}, "This field is required."),
        ({"scope": "debt", "reference": "RAVI-1", "review_on": ""}, "This field is required."),
    ],
)
def test_place_form_errors_show_next_to_their_fields_and_change_nothing(floor: Floor, data, error):
    form = {"reason": "litigation", "review_on": in_days(30).isoformat(), **data}
    response = login(floor.manager).post(url(floor), form)
    assert response.status_code == 400
    text = response.content.decode()
    assert error in text and 'class="field-error"' in text
    assert holds_in(floor) == []


def test_a_reference_two_clients_share_asks_for_the_client(floor: Floor):
    with workspace_context(floor.ws):
        make_debt(floor.ws, floor.konkan, "Asha Rao", "MEERA-1")  # Konkan uses the same reference
    manager = login(floor.manager)
    form = {"scope": "debt", "reference": "MEERA-1", "reason": "litigation", "review_on": in_days(30).isoformat()}
    refused = manager.post(url(floor), form)
    assert refused.status_code == 400
    assert "Debts of several clients have this reference (Konkan Finance, Sahyadri Bank)" in refused.content.decode()
    assert manager.post(url(floor), {**form, "client": floor.sahyadri.pk}).status_code == 302
    assert [h.debt_id for h in holds_in(floor)] == [floor.meera_1.pk]


# --- Reviewing and lifting ---------------------------------------------------------------


def test_lift_needs_a_reason_then_clears_the_flag(floor: Floor):
    hold = hold_on(floor)
    manager = login(floor.manager)
    refused = manager.post(url(floor, f"{hold.pk}/lift/"), {"reason": ""})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert held(floor.ws) == {"MEERA-1"}

    assert manager.post(url(floor, f"{hold.pk}/lift/"), {"reason": "Suit withdrawn"}).status_code == 302
    assert held(floor.ws) == set()
    lifted = manager.get(url(floor) + "?status=lifted").content.decode()
    assert "Suit withdrawn" in lifted and "lifted" in lifted
    again = manager.post(url(floor, f"{hold.pk}/lift/"), {"reason": "twice"})
    assert again.status_code == 400 and "already lifted" in again.content.decode()


def test_review_records_a_new_date_and_refuses_a_past_one(floor: Floor):
    hold = hold_on(floor)
    with workspace_context(floor.ws):  # its review date has since passed
        LegalHold.objects.for_workspace(floor.ws).filter(pk=hold.pk).update(review_on=in_days(-3))
    manager = login(floor.manager)
    page = manager.get(url(floor)).content.decode()
    assert 'data-review="overdue"' in page and "1 review overdue" in page
    refused = manager.post(url(floor, f"{hold.pk}/review/"), {"review_on": in_days(-1).isoformat()})
    assert refused.status_code == 400 and "A review date after today" in refused.content.decode()
    new = in_days(120)
    assert manager.post(url(floor, f"{hold.pk}/review/"), {"review_on": new.isoformat()}).status_code == 302
    with workspace_context(floor.ws):
        assert LegalHold.objects.for_workspace(floor.ws).get(pk=hold.pk).review_on == new
    assert 'data-review="overdue"' not in manager.get(url(floor)).content.decode()


# --- Who may do what ------------------------------------------------------------------------


def test_an_auditor_reads_everything_and_every_post_is_refused(floor: Floor):
    hold = hold_on(floor)
    auditor = login(floor.auditor)
    page = auditor.get(url(floor))
    assert page.status_code == 200
    text = page.content.decode()
    assert "MEERA-1" in text and "Place a legal hold" not in text and "Lift hold" not in text
    assert auditor.get(url(floor, "export.csv")).status_code == 200
    form = {"scope": "workspace", "reason": "audit", "review_on": in_days(30).isoformat()}
    assert auditor.post(url(floor), form).status_code == 403
    assert auditor.post(url(floor, f"{hold.pk}/lift/"), {"reason": "x"}).status_code == 403
    assert auditor.post(url(floor, f"{hold.pk}/review/"), {"review_on": in_days(9).isoformat()}).status_code == 403
    debt_form = {"scope": "debtor", "reason": "audit", "review_on": in_days(30).isoformat()}
    assert auditor.post(f"/w/acme/retention/debts/{floor.ravi.pk}/holds/", debt_form).status_code == 403
    assert len(holds_in(floor)) == 1 and holds_in(floor)[0].active


def test_agents_and_client_users_do_not_get_the_holds_page(floor: Floor):
    for user in (floor.agent, floor.client_user):
        assert login(user).get(url(floor)).status_code == 403
        assert login(user).get(url(floor, "export.csv")).status_code == 403


def test_another_workspace_gets_404_for_the_pages_and_the_holds(floor: Floor):
    hold = hold_on(floor)
    bob = login(floor.world.bob)
    for path in (url(floor), url(floor, "export.csv")):
        assert bob.get(path).status_code == 404
    assert bob.post(url(floor, f"{hold.pk}/lift/"), {"reason": "x"}).status_code == 404
    # Alice in her own workspace with B's hold id: the same 404 as a missing one.
    with workspace_context(floor.world.b):
        theirs = legal_hold_place(
            workspace=floor.world.b, scope="workspace", reason="audit", review_on=in_days(30), actor=floor.world.bob
        )
    alice = login(floor.world.alice)
    assert alice.post(url(floor, f"{theirs.pk}/lift/"), {"reason": "x"}).status_code == 404
    assert alice.post(url(floor, f"{theirs.pk}/review/"), {"review_on": in_days(9).isoformat()}).status_code == 404
    assert str(theirs.pk) not in alice.get(url(floor) + "?status=all").content.decode()
    assert held(floor.world.b) == {"ORV-1"}


# --- Filters, pagination, export ---------------------------------------------------------------


def test_filters_narrow_the_list(floor: Floor):
    hold_on(floor, reason="open_dispute", review_in=7)
    hold_on(floor, "portfolio", client=floor.konkan, reason="insolvency")
    lifted = hold_on(floor, "workspace", reason="audit")
    with workspace_context(floor.ws):
        legal_hold_lift(workspace=floor.ws, hold=lifted, reason="Audit done")
    manager = login(floor.manager)

    def shown(query: str) -> set[str]:
        page = manager.get(url(floor) + query).content.decode()
        text = page.split('data-testid="holds"', 1)[-1] if 'data-testid="holds"' in page else ""
        return {h for h in ("Debt MEERA-1", "Portfolio of Konkan Finance", "The whole workspace") if h in text}

    assert shown("") == {"Debt MEERA-1", "Portfolio of Konkan Finance"}
    assert shown("?status=lifted") == {"The whole workspace"}
    assert shown("?status=all&reason=open_dispute") == {"Debt MEERA-1"}
    assert shown("?scope=portfolio") == {"Portfolio of Konkan Finance"}
    assert shown(f"?client={floor.konkan.pk}") == {"Portfolio of Konkan Finance"}
    assert shown(f"?client={floor.sahyadri.pk}") == {"Debt MEERA-1"}
    assert "No hold matches" in manager.get(url(floor) + "?review=overdue").content.decode()
    assert shown("?review=soon") == {"Debt MEERA-1"}  # its review is within 14 days


def _queries(client, path: str) -> int:
    client.get(path)  # warm: the session, policy and sign-in bookkeeping of a first request
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_list_pages_without_counting_and_its_queries_do_not_grow(floor: Floor):
    manager = login(floor.manager)
    for _ in range(3):
        hold_on(floor, "debtor", debtor=floor.meera_1.debtor)
        hold_on(floor)
    few = _queries(manager, url(floor))
    for _ in range(25):
        hold_on(floor, "debtor", debtor=floor.ravi.debtor)
        hold_on(floor, "portfolio", client=floor.sahyadri)
    assert _queries(manager, url(floor)) == few
    first = manager.get(url(floor)).content.decode()
    assert first.count("<tr data-hold=") == 50 and 'rel="next"' in first
    second = manager.get(url(floor) + "?page=2").content.decode()
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert second.count("<tr data-hold=") == 56 - 50


def test_the_csv_export_lists_the_filtered_holds_without_names_and_is_audited(floor: Floor):
    hold_on(floor, "debtor", debtor=floor.meera_1.debtor)
    hold_on(floor, "portfolio", client=floor.konkan)
    response = login(floor.manager).get(url(floor, "export.csv") + "?scope=debtor")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(body(response))))
    assert rows[0][:3] == ["hold", "scope", "covers"]
    assert [r[1:3] for r in rows[1:]] == [["debtor", "The debtor of MEERA-1 (Sahyadri Bank) and 1 more debt"]]
    assert "Meera" not in body(login(floor.manager).get(url(floor, "export.csv")))
    with workspace_context(floor.ws):
        exported = AuditEvent.objects.filter(workspace_id=floor.ws.pk, action=actions.RETENTION_HOLDS_EXPORTED)
        assert next(e.metadata for e in exported.order_by("seq")) == {"rows": 1, "filters": ["scope"]}


# --- The debt page ----------------------------------------------------------------------------


def debt_url(debt) -> str:
    return f"/w/acme/debts/{debt.pk}/"


def test_the_debt_page_shows_the_holds_that_cover_it_whatever_their_scope(floor: Floor):
    hold_on(floor, "portfolio", client=floor.sahyadri, reason="insolvency")
    text = login(floor.manager).get(debt_url(floor.meera_2)).content.decode()
    assert 'data-testid="holds-panel"' in text and "Portfolio of Sahyadri Bank" in text and "Insolvency" in text
    assert 'data-testid="held-badge"' in text
    assert 'data-testid="held-badge"' not in login(floor.manager).get(debt_url(floor.ravi)).content.decode()


def test_a_manager_places_a_hold_on_the_debtor_from_the_debt_page(floor: Floor):
    manager = login(floor.manager)
    form = {"scope": "debtor", "reason": "litigation", "case_reference": "CS-9", "review_on": in_days(45).isoformat()}
    response = manager.post(f"/w/acme/retention/debts/{floor.meera_2.pk}/holds/", form, **HTMX)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Legal hold placed on the debtor." in text and "The debtor (all their debts)" in text
    assert held(floor.ws) == {"MEERA-1", "MEERA-2"}
    assert "Legal hold placed (litigation)" in text  # the timeline line, swapped in with the panel
    plain = manager.post(f"/w/acme/retention/debts/{floor.ravi.pk}/holds/", {**form, "scope": "debt"})
    assert plain.status_code == 302 and plain["Location"] == debt_url(floor.ravi)
    assert held(floor.ws) == {"MEERA-1", "MEERA-2", "RAVI-1"}


def test_the_debt_page_form_shows_its_errors(floor: Floor):
    form = {"scope": "debt", "reason": "", "review_on": in_days(-2).isoformat()}
    response = login(floor.manager).post(f"/w/acme/retention/debts/{floor.ravi.pk}/holds/", form)
    assert response.status_code == 400
    text = response.content.decode()
    assert "This field is required." in text
    assert holds_in(floor) == []
    past = login(floor.manager).post(
        f"/w/acme/retention/debts/{floor.ravi.pk}/holds/", {**form, "reason": "audit"}, **HTMX
    )
    assert "A review date after today" in past.content.decode() and holds_in(floor) == []


def test_who_sees_the_debt_pages_holds_section(floor: Floor):
    with workspace_context(floor.ws):
        debt_assign(debt=floor.meera_1, agent=floor.agent)
        debt_assign(debt=floor.ravi, agent=floor.agent)
    hold_on(floor)  # MEERA-1 is held
    agent = login(floor.agent)
    held_page = agent.get(debt_url(floor.meera_1)).content.decode()
    assert 'data-testid="holds-panel"' in held_page and 'data-testid="hold-form"' not in held_page
    assert 'data-testid="holds-panel"' not in agent.get(debt_url(floor.ravi)).content.decode()
    assert agent.post(f"/w/acme/retention/debts/{floor.ravi.pk}/holds/", {}).status_code == 403
    client_page = login(floor.client_user).get(debt_url(floor.meera_1)).content.decode()
    assert 'data-testid="holds-panel"' not in client_page
    manager_page = login(floor.manager).get(debt_url(floor.ravi)).content.decode()
    assert 'data-testid="hold-form"' in manager_page and "No legal hold covers this debt." in manager_page
