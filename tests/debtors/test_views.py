"""The agent workspace pages: roles, htmx actions, reveal audit, queue paging, export."""

from __future__ import annotations

import re

import pytest

from accounts.models import Client, Membership
from accounts.roles import Role
from audit.models import AuditEvent
from debtors.models import Debt
from debtors.services.debts import debt_assign
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _debt_ids(html: str, slug: str) -> list[str]:
    return re.findall(rf'/w/{slug}/debts/({UUID})/"', html)


@pytest.fixture
def floor(world):
    """Workspace A with an agent, an auditor, a manager, a client user and three debts."""
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(world.a, "auditor@example.com", Role.AUDITOR)
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    client_user = add_member(world.a, "bank@example.com", Role.AUDITOR)
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        Membership.objects.filter(user=client_user).update(client=sahyadri)
        from accounts.services import client_create

        other = client_create(workspace=world.a, name="Konkan Telecom", reference="KONKAN")
        mine = make_debt(world.a, client_ref="SAHYADRI")
        debt_assign(debt=mine, agent=agent)
        theirs = make_debt(world.a, client_ref="SAHYADRI")
        konkan = make_debt(world.a, client_ref=other.reference)
    return {
        "agent": agent,
        "auditor": auditor,
        "manager": manager,
        "client_user": client_user,
        "mine": mine,
        "theirs": theirs,
        "konkan": konkan,
    }


def test_agent_sees_only_assigned_debts(world, floor):
    c = login(floor["agent"])
    html = c.get("/w/acme/debts/").content.decode()
    assert _debt_ids(html, "acme") == [str(floor["mine"].pk)]
    assert c.get(f"/w/acme/debts/{floor['theirs'].pk}/").status_code == 404


def test_manager_sees_everything_and_bulk_assigns(world, floor):
    c = login(floor["manager"])
    html = c.get("/w/acme/debts/").content.decode()
    assert set(_debt_ids(html, "acme")) == {str(floor[k].pk) for k in ("mine", "theirs", "konkan")}
    r = c.post(
        "/w/acme/debts/bulk-assign/", {"debt": [floor["theirs"].pk, floor["konkan"].pk], "agent": floor["agent"].pk}
    )
    assert r.status_code == 302
    agent_html = login(floor["agent"]).get("/w/acme/debts/").content.decode()
    assert len(_debt_ids(agent_html, "acme")) == 3


def test_auditor_gets_no_action_buttons_and_every_post_is_refused(world, floor):
    c = login(floor["auditor"])
    page = c.get(f"/w/acme/debts/{floor['mine'].pk}/").content.decode()
    assert "/actions/" not in page and "Record a payment" not in page
    for action in ("payment", "note", "call", "status", "dispute"):
        assert (
            c.post(f"/w/acme/debts/{floor['mine'].pk}/actions/{action}/", {"amount": "1.00", "body": "x"}).status_code
            == 403
        )
    assert c.post("/w/acme/debts/bulk-assign/", {"debt": [floor["mine"].pk]}).status_code == 403
    with workspace_context(world.a):
        assert Debt.objects.get(pk=floor["mine"].pk).balance_minor == 100_000


def test_client_user_sees_only_their_clients_debts_and_no_contact_details(world, floor):
    c = login(floor["client_user"])
    html = c.get("/w/acme/debts/").content.decode()
    assert set(_debt_ids(html, "acme")) == {str(floor["mine"].pk), str(floor["theirs"].pk)}
    assert c.get(f"/w/acme/debts/{floor['konkan'].pk}/").status_code == 404
    page = c.get(f"/w/acme/debts/{floor['mine'].pk}/").content.decode()
    with workspace_context(world.a):
        debtor = Debt.objects.select_related("debtor").get(pk=floor["mine"].pk).debtor
    assert "Reveal details" not in page and debtor.email not in page and debtor.phone not in page
    assert c.post(f"/w/acme/debts/{floor['mine'].pk}/reveal/").status_code == 403


def test_reveal_shows_details_and_is_audited(world, floor):
    c = login(floor["agent"])
    page = c.get(f"/w/acme/debts/{floor['mine'].pk}/").content.decode()
    with workspace_context(world.a):
        email = Debt.objects.select_related("debtor").get(pk=floor["mine"].pk).debtor.email
    assert email not in page  # masked until revealed
    r = c.post(f"/w/acme/debts/{floor['mine'].pk}/reveal/", HTTP_HX_REQUEST="true")
    assert email in r.content.decode()
    with workspace_context(world.a):
        event = AuditEvent.objects.get(action="personal_data.read", object_id=str(floor["mine"].debtor_id))
    assert event.actor_user_id == floor["agent"].pk and email not in str(event.content())


def test_htmx_payment_updates_the_panel_and_errors_are_inline(world, floor):
    c = login(floor["agent"])
    url = f"/w/acme/debts/{floor['mine'].pk}/actions/payment/"
    r = c.post(url, {"amount": "250.00", "method": "cash"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "750.00" in html and "Payment 250.00 INR" in html
    r = c.post(url, {"amount": "1.005", "method": "cash"}, HTTP_HX_REQUEST="true")
    assert "at most 2 decimal places" in r.content.decode()
    r = c.post(url, {"amount": "1.005", "method": "cash"})  # without htmx: a 400 page with the error
    assert r.status_code == 400
    with workspace_context(world.a):
        assert Debt.objects.get(pk=floor["mine"].pk).balance_minor == 75_000


def test_status_change_offers_only_allowed_transitions(world, floor):
    c = login(floor["agent"])
    page = c.get(f"/w/acme/debts/{floor['mine'].pk}/").content.decode()
    assert '<option value="promise">' in page and '<option value="new">' not in page
    r = c.post(f"/w/acme/debts/{floor['mine'].pk}/actions/status/", {"status": "new"}, HTTP_HX_REQUEST="true")
    assert "field-error" in r.content.decode() or "cannot go from" in r.content.decode()


def test_queue_pages_with_a_cursor_without_duplicates(world, floor):
    with workspace_context(world.a):
        for _ in range(30):
            make_debt(world.a)
    c = login(floor["manager"])
    first = c.get("/w/acme/debts/", {"order": "balance"}).content.decode()
    ids1 = _debt_ids(first, "acme")
    cursor = re.search(r"cursor=([A-Za-z0-9_-]+)", first).group(1)
    second = c.get("/w/acme/debts/", {"order": "balance", "cursor": cursor}).content.decode()
    ids2 = _debt_ids(second, "acme")
    assert len(ids1) == 25 and len(ids2) == 33 - 25
    assert not set(ids1) & set(ids2)


def test_queue_search_finds_by_email_exactly(world, floor):
    with workspace_context(world.a):
        make_debt(world.a, email="Needle@Example.com")
    c = login(floor["manager"])
    assert len(_debt_ids(c.get("/w/acme/debts/", {"q": "needle@example.com"}).content.decode(), "acme")) == 1
    assert _debt_ids(c.get("/w/acme/debts/", {"q": "needle@example"}).content.decode(), "acme") == []


def test_export_is_streamed_audited_and_free_of_contact_details(world, floor):
    c = login(floor["manager"])
    r = c.get("/w/acme/debts/export.csv")
    body = b"".join(r.streaming_content).decode()
    assert body.splitlines()[0].startswith("reference,client,status")
    assert len(body.strip().splitlines()) == 4
    assert "debtor" not in body.lower().replace("debtor_", "")  # no debtor names or emails
    with workspace_context(world.a):
        emails = [d.debtor.email for d in Debt.objects.select_related("debtor")]
    assert not any(e in body for e in emails)
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action="debts.exported").count() == 1


def test_other_workspace_gets_404_on_every_debt_page(world, floor):
    c = login(world.bob)
    debt = floor["mine"]
    for url in (f"/w/acme/debts/{debt.pk}/", "/w/acme/debts/", "/w/acme/placements/"):
        assert c.get(url).status_code == 404
    assert login(world.bob).get(f"/w/globex/debts/{debt.pk}/").status_code == 404


def test_manager_clears_the_under_18_hold_after_checking(world, floor):
    from datetime import date

    from debtors.services.debtors import DebtorInput, debtor_create
    from debtors.services.debts import DebtInput, debt_create

    with workspace_context(world.a):
        minor = debtor_create(
            workspace=world.a, data=DebtorInput(full_name="Young One", date_of_birth=date(2015, 1, 1))
        )
        debt = debt_create(
            workspace=world.a,
            client=Client.objects.get(reference="SAHYADRI"),
            debtor=minor,
            data=DebtInput(reference="MINOR-1", original_amount_minor=100, currency="INR"),
        )
    assert debt.status == "on_hold"
    manager = login(floor["manager"])
    page = manager.get(f"/w/acme/debts/{debt.pk}/").content.decode()
    assert "Clear the under-18 flag" in page
    assert (
        login(floor["agent"]).post(f"/w/acme/debts/{debt.pk}/minor-review/", {"confirmed_adult": "yes"}).status_code
        == 403
    )
    manager.post(f"/w/acme/debts/{debt.pk}/minor-review/", {})  # not ticked: nothing changes
    with workspace_context(world.a):
        assert Debt.objects.select_related("debtor").get(pk=debt.pk).debtor.is_minor
    manager.post(f"/w/acme/debts/{debt.pk}/minor-review/", {"confirmed_adult": "yes"})
    r = manager.post(f"/w/acme/debts/{debt.pk}/actions/status/", {"status": "active"})
    assert r.status_code == 302
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).status == "active"


def test_quick_actions_keep_their_order_whichever_app_contributes_them(world, floor):
    """The "Log a call / contact" action comes from the communications app; it still
    comes right after "Record a payment", on the page and in the htmx refresh."""
    c = login(floor["agent"])
    page = c.get(f"/w/acme/debts/{floor['mine'].pk}/")
    assert list(page.context["forms"])[:3] == ["payment", "call", "note"]
    refreshed = c.post(
        f"/w/acme/debts/{floor['mine'].pk}/actions/note/", {"body": "Called back"}, HTTP_HX_REQUEST="true"
    )
    assert list(refreshed.context["forms"])[:3] == ["payment", "call", "note"]
    html = page.content.decode()
    assert html.index("Record a payment") < html.index("Log a call") < html.index("Add a note")
