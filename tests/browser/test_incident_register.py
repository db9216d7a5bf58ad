"""The information officer records an incident in a real browser (the date and time
typed in the workspace's zone) and sees one countdown per party to tell; a filing after
the deadline asks for its reason. Screenshots: var/test-output/screenshots/incident-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.browser.test_agent_flow import sign_in
from tests.incidents.register_world import record

pytestmark = pytest.mark.browser


def test_officer_records_an_incident_and_sees_its_countdowns(page: Page, browser_world):
    now = timezone.now()
    # An older one whose 72-hour report is already late.
    late = record(browser_world.a, title="Stolen laptop", aware_at=now - 80 * timedelta(hours=1), now=now)
    sign_in(page, "alice@example.com")
    page.goto("/w/acme/")
    expect(page.get_by_test_id("breach-clocks")).to_contain_text("Stolen laptop")
    page.get_by_role("link", name="Incidents", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Breach register")
    page.get_by_test_id("record-incident").click()

    aware = (now - timedelta(hours=2)).astimezone(timezone.get_fixed_timezone(330))
    form = page.get_by_test_id("incident-form")
    form.get_by_label("Title").fill("Phishing on the collections mailbox")
    form.get_by_label("What happened").fill("A collector's mailbox was accessed from an unknown network.")
    form.get_by_label("When the workspace became aware").fill(aware.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("Contact details").check()
    form.get_by_label("Debtors").check()
    form.get_by_label("Approximate number of people").fill("350")
    form.get_by_label("One of the cyber incidents CERT-In lists").check()
    form.get_by_role("button", name="Record the incident").click()

    expect(page.get_by_test_id("status")).to_have_text("Suspected")
    cards = page.get_by_test_id("duty")
    expect(cards).to_have_count(4)
    cert_in = page.locator("[data-testid=duty][data-code=CERT-IN]")
    expect(cert_in).to_have_attribute("data-state", "due_soon")
    expect(cert_in).to_contain_text("Deadline in law")
    expect(cert_in).to_contain_text("left")
    expect(page.locator("[data-testid=duty][data-code=IN-DPB]")).to_contain_text("the workspace's own target")
    screenshot(page, "incident-page")

    # The late report of the first incident: filing it without a reason is refused.
    page.goto(f"/w/acme/incidents/{late.reference}/")
    report = page.locator("[data-testid=duty][data-code=IN-DPB-REPORT]")
    expect(report).to_have_attribute("data-state", "late")
    report.get_by_label("Filing reference").fill("DPB-2026-0042")
    report.get_by_role("button", name="Record it").click()
    report = page.locator("[data-testid=duty][data-code=IN-DPB-REPORT]")
    expect(report.locator(".field-error")).to_contain_text("The deadline passed")
    report.get_by_label("Reasons for the delay").fill("The forensic report arrived on day 4.")
    report.get_by_role("button", name="Record it").click()
    expect(page.locator("[data-testid=duty][data-code=IN-DPB-REPORT] [data-testid=late-reason]")).to_contain_text(
        "day 4"
    )
    screenshot(page, "incident-late-filing")
