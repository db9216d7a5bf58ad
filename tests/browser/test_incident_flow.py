"""Issue 14 end to end in a real browser: a bulk-reveal security alert becomes an
incident, the finder freezes the people whose details the member saw, the notices go
out (one each), and the authority report downloads as a PDF.
Screenshot: var/test-output/screenshots/incident-flow.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.roles import Role
from incidents.models import AlertKind, Incident
from kernel.tenancy import workspace_context
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, World, add_member
from tests.incidents.alerts_world import alerts, debts, detect, reveal, thresholds
from tests.incidents.notices_world import contact, notices_of

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()


def test_an_alert_becomes_an_incident_whose_people_are_told_and_reported(page: Page, browser_world: World) -> None:
    acme = browser_world.a
    agent = add_member(acme, "agent@example.com", Role.AGENT)
    contact(acme)
    thresholds(acme, reveals_per_hour=3)
    seen = [debt.debtor for debt in debts(acme, 4)]
    started = timezone.now()
    reveal(acme, agent, seen)
    detect(acme)
    (alert,) = alerts(acme, kind=AlertKind.BULK_REVEAL)

    sign_in(page, "alice@example.com")
    page.goto("/w/acme/incidents/alerts/")
    card = page.locator(f"[data-testid=alert][data-alert='{alert.pk}']")
    expect(card).to_contain_text("agent@example.com")
    card.get_by_role("link", name=alert.get_kind_display()).click()
    page.get_by_role("button", name="Turn into an incident").click()
    expect(page.get_by_test_id("status")).to_have_text("Suspected")
    (alert,) = alerts(acme, pk=alert.pk)
    with workspace_context(acme):
        incident = Incident.objects.for_workspace(acme).get(pk=alert.incident_id)
    assert page.url.endswith(f"/w/acme/incidents/{incident.reference}/")

    # The finder: that member's traces, in a window covering the reveals.
    zone = timezone.get_fixed_timezone(330)
    form = page.get_by_test_id("finder-form")
    form.locator("input[name=scope][value=user]").check()
    form.get_by_label("User", exact=True).select_option(str(agent.pk))
    form.get_by_label("From").fill((started - timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Until").fill((timezone.now() + timedelta(minutes=2)).astimezone(zone).strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Preview the people found").click()
    expect(page.get_by_test_id("preview-total")).to_have_text(str(len(seen)))
    page.get_by_test_id("freeze-form").get_by_role("button", name="Freeze").click()
    expect(page.get_by_test_id("finder-total")).to_have_text(str(len(seen)))

    # The people's duty: notify, with the reason.
    people = page.locator("[data-testid=duty][data-code=PEOPLE]")
    if people.get_by_test_id("decision").count() == 0:
        decide = people.get_by_test_id("decide")
        decide.locator("summary").click()
        decide.get_by_label("Notify", exact=True).check()
        decide.get_by_label("Reason", exact=True).fill("Names and emails seen in bulk: risk of phishing.")
        decide.get_by_role("button", name="Record the decision").click()
    expect(page.locator("[data-testid=duty][data-code=PEOPLE] [data-testid=decision]")).to_contain_text("Notify")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("notices-start").get_by_role("button").click()
    expect(page.get_by_test_id("notices-sent")).to_have_text(str(len(seen)))
    expect(page.get_by_test_id("notices-done")).to_be_visible()
    screenshot(page, "incident-flow")

    sent = notices_of(incident)
    assert {debtor.pk for debtor in seen} == set(sent)
    assert all(len(comms) == 1 for comms in sent.values())

    # An authority's report, as a page and as a PDF.
    page.get_by_test_id("report").first.get_by_role("link", name="View the report").click()
    with page.expect_download() as download_info:
        page.get_by_test_id("report-pdf").click()
    path = download_info.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
