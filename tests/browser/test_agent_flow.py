"""The agent's day in a real browser: queue → debt → payment → balance, timeline and
dashboard change. And an auditor finds every action absent and every POST refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.roles import Role
from debtors.services.debts import debt_assign
from kernel.tenancy import workspace_context
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD, add_member
from tests.debtors.factories import make_debt

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()


@pytest.fixture
def floor(browser_world):
    agent = add_member(browser_world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(browser_world.a, "auditor@example.com", Role.AUDITOR)
    with workspace_context(browser_world.a):
        debts = [make_debt(browser_world.a, amount_minor=(i + 1) * 100_000) for i in range(3)]
        for d in debts:
            debt_assign(debt=d, agent=agent)
    return {"agent": agent, "auditor": auditor, "debts": debts}


def test_agent_records_a_payment_and_sees_balance_timeline_and_dashboard_change(page: Page, floor):
    sign_in(page, "agent@example.com")
    page.goto("/w/acme/")
    collected_before = page.locator(".kpi-value").first.inner_text()
    screenshot(page, "dashboard-before")

    page.get_by_role("link", name=re.compile("My accounts|Work queue")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("My accounts|Work queue"))
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(3)
    screenshot(page, "queue")
    rows.first.get_by_role("link").click()  # priority order: the biggest balance first

    expect(page.get_by_test_id("balance")).to_contain_text("3000.00")
    page.get_by_text("Record a payment").click()
    form = page.locator("form[action$='/actions/payment/']")
    form.get_by_label("Amount").fill("750.00")
    form.get_by_role("button", name="Save").click()
    # htmx swapped the panel in place: no navigation, new balance and a timeline line.
    expect(page.get_by_test_id("balance")).to_contain_text("2250.00")
    expect(page.get_by_test_id("timeline")).to_contain_text("Payment 750.00 INR")
    screenshot(page, "debt-page")

    # An invalid amount is refused inline and changes nothing.
    page.get_by_text("Record a payment").click()
    form = page.locator("form[action$='/actions/payment/']")
    form.get_by_label("Amount").fill("1.005")
    form.get_by_role("button", name="Save").click()
    expect(page.locator(".field-error").first).to_contain_text("decimal")
    expect(page.get_by_test_id("balance")).to_contain_text("2250.00")

    page.goto("/w/acme/")
    expect(page.locator(".kpi-value").first).not_to_have_text(collected_before)
    expect(page.locator(".kpi-value").first).to_contain_text("750.00")
    screenshot(page, "dashboard-after")


def test_auditor_sees_no_action_and_every_post_is_refused(page: Page, floor):
    sign_in(page, "auditor@example.com")
    debt = floor["debts"][0]
    page.goto(f"/w/acme/debts/{debt.pk}/")
    expect(page.get_by_test_id("balance")).to_be_visible()
    for label in ("Record a payment", "Log a call / contact", "Add a note", "Change status", "Reveal details"):
        expect(page.get_by_text(label)).to_have_count(0)
    expect(page.locator("form[action*='/actions/']")).to_have_count(0)
    # Even a hand-made POST (with the page's CSRF token) is refused.
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    response = page.request.post(
        f"/w/acme/debts/{debt.pk}/actions/payment/",
        form={"amount": "1.00", "method": "cash"},
        headers={"X-CSRFToken": csrf, "Referer": page.url},
    )
    assert response.status == 403
    response = page.request.post(
        "/w/acme/debts/bulk-assign/", form={"debt": str(debt.pk)}, headers={"X-CSRFToken": csrf, "Referer": page.url}
    )
    assert response.status == 403
    screenshot(page, "debt-page-auditor")
