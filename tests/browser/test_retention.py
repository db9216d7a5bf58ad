"""Retention in a real browser: a manager places a legal hold on a debt from the debt
page and finds it on the holds page; the owner opens the schedule and runs a dry
run, whose receipt lists what would go; the same pages on a phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import Client
from accounts.roles import Role
from debtors.models import Debt
from debtors.services.debts import debt_assign
from kernel.tenancy import workspace_context
from retention.holds import legal_hold_place
from tests.browser.conftest import PHONE, guarded_page, screenshot
from tests.conftest import PASSWORD, World, add_member
from tests.debtors.factories import make_debt

pytestmark = pytest.mark.browser


def sign_in(page: Page, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()


@pytest.fixture
def office(browser_world: World) -> dict[str, object]:
    manager = add_member(browser_world.a, "manager@example.com", Role.MANAGER)
    with workspace_context(browser_world.a):
        debts = [make_debt(browser_world.a, amount_minor=(i + 1) * 100_000) for i in range(2)]
        for debt in debts:
            debt_assign(debt=debt, agent=manager)
    return {"manager": manager, "debts": debts, "world": browser_world}


def test_a_manager_holds_a_debt_and_the_owner_runs_a_dry_run(page: Page, office: dict[str, object]) -> None:
    debt: Debt = office["debts"][0]  # type: ignore[index]
    sign_in(page, "manager@example.com")
    page.goto(f"/w/acme/debts/{debt.pk}/")
    panel = page.get_by_test_id("holds-panel")
    expect(panel).to_contain_text("No legal hold covers this debt.")
    panel.get_by_text("Place a legal hold").click()
    form = page.get_by_test_id("hold-form")
    form.get_by_label("This debt", exact=True).check()
    form.get_by_label("Reason").select_option("litigation")
    form.get_by_label("Case reference").fill("CS/1042/2026")
    review = (timezone.now() + timedelta(days=60)).date()
    form.get_by_label("Review by").fill(review.isoformat())
    screenshot(page, "retention-debt-hold-form")
    form.get_by_role("button", name="Place hold").click()

    # htmx swapped the debt panel: the hold, the badge and the timeline line.
    expect(page.get_by_test_id("debt-holds")).to_contain_text("CS/1042/2026")
    expect(page.get_by_test_id("held-badge")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text("Legal hold placed (litigation)")
    screenshot(page, "retention-debt-held")

    page.get_by_role("link", name="Retention").click()
    page.get_by_role("link", name="Legal holds").first.click()
    expect(page).to_have_url(re.compile(r"/w/acme/retention/holds/$"))
    row = page.get_by_test_id("holds").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Debt {debt.reference}")
    expect(row).to_contain_text("manager@example.com")
    expect(row).to_contain_text(review.isoformat())
    screenshot(page, "retention-holds")
    # The manager reads the schedule but does not start purges.
    page.goto("/w/acme/retention/")
    expect(page.get_by_test_id("dry-run")).to_have_count(0)

    page.context.clear_cookies()
    sign_in(page, "alice@example.com")
    page.goto("/w/acme/")
    page.get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retention")
    expect(page.get_by_test_id("schedule")).to_contain_text("Companies Act 2013")
    screenshot(page, "retention-schedule")
    page.get_by_test_id("dry-run").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dry run")
    expect(page.get_by_role("status")).to_contain_text("Dry run queued on a worker")
    expect(page.get_by_test_id("run-summary")).to_contain_text("Started from the schedule page")
    expect(page.get_by_test_id("run-summary")).to_contain_text("alice@example.com")
    screenshot(page, "retention-dry-run")
    page.get_by_role("link", name="← Purge runs").click()
    expect(page.get_by_test_id("runs").locator("tbody tr")).to_have_count(1)
    screenshot(page, "retention-runs")


def test_the_retention_pages_on_a_phone(chromium: Browser, live_server: LiveServer, office: dict[str, object]) -> None:
    world: World = office["world"]  # type: ignore[assignment]
    debt: Debt = office["debts"][1]  # type: ignore[index]
    with workspace_context(world.a):
        legal_hold_place(
            workspace=world.a,
            scope="portfolio",
            client=Client.objects.get(reference="SAHYADRI"),
            reason="insolvency",
            case_reference="IBC/CP/88/2026",
            review_on=(timezone.now() + timedelta(days=5)).date(),
            actor=world.alice,
        )
    with guarded_page(chromium, live_server, **PHONE) as phone:
        sign_in(phone, "alice@example.com")
        phone.goto("/w/acme/retention/")
        expect(phone.get_by_test_id("dry-run")).to_be_visible()
        screenshot(phone, "retention-schedule-phone")
        phone.goto("/w/acme/retention/holds/")
        expect(phone.get_by_test_id("holds")).to_contain_text("Portfolio of Sahyadri Bank")
        expect(phone.locator('tr[data-review="soon"]')).to_have_count(1)
        screenshot(phone, "retention-holds-phone")
        phone.goto(f"/w/acme/debts/{debt.pk}/")
        expect(phone.get_by_test_id("debt-holds")).to_contain_text("Portfolio of Sahyadri Bank")
        phone.get_by_test_id("holds-panel").scroll_into_view_if_needed()
        screenshot(phone, "retention-debt-held-phone")
