"""A debtor pays from a payment link on a phone; the agent sees it on the debt page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.models import Client
from accounts.roles import Role
from debtors.models import Debt
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_assign, debt_change_status, debt_create
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from tests.browser.conftest import PHONE, guarded_page, screenshot
from tests.conftest import PASSWORD, World, add_member

pytestmark = pytest.mark.browser

# What only the verified debtor may see: none of it is on the page before verifying.
PERSONAL = (
    "Meera",
    "meera@example.com",
    "98765",
    "43210",
    "MG Road",
    "Pune",
    "ABCPI1234K",
    "1990",
    "5000.00",
    "5,000.00",
)


@dataclass
class Payable:
    world: World
    debt: Debt
    path: str  # /pay/<token>/


@pytest.fixture
def payable(browser_world: World) -> Payable:
    """A debtor (with a date of birth) owing INR 5000.00 to Sahyadri Bank, the debt
    assigned to an agent, and a full-balance payment link — all committed, since the
    live server reads them from another thread."""
    a = browser_world.a
    agent = add_member(a, "agent@example.com", Role.AGENT)
    with workspace_context(a):
        debtor = debtor_create(
            workspace=a,
            data=DebtorInput(
                full_name="Meera Iyer",
                email="meera@example.com",
                phone="+91 98765 43210",
                address="12 MG Road, Pune",
                date_of_birth=date(1990, 5, 17),
                national_id="ABCPI1234K",
            ),
        )
        debt = debt_create(
            workspace=a,
            client=Client.objects.get(reference="SAHYADRI"),
            debtor=debtor,
            data=DebtInput(reference="PAY-1", original_amount_minor=500_000, currency="INR"),
        )
        debt = debt_change_status(debt=debt, status="active")
        debt_assign(debt=debt, agent=agent)
        issued = payment_link_create(debt=debt)
    return Payable(browser_world, debt, issued.url.removeprefix(settings.SITE_URL.rstrip("/")))


@pytest.fixture
def phone(chromium, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A phone-sized touch browser (no cookies), with the same guards as ``page``."""
    with guarded_page(chromium, live_server, **PHONE) as page:
        yield page


def test_debtor_pays_in_full_on_a_phone_and_the_agent_sees_it(phone: Page, page: Page, payable: Payable) -> None:
    phone.goto(payable.path)
    expect(phone.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(phone.get_by_text("Acme Collections is contacting you on behalf of Sahyadri Bank.")).to_be_visible()
    html, text = phone.content(), phone.locator("body").inner_text()
    for secret in PERSONAL:
        assert secret not in html and secret not in text, secret
    screenshot(phone, "debtor-verify")

    phone.get_by_label(re.compile("Your date of birth")).fill("1990-05-17")
    phone.get_by_role("button", name="Continue").tap()
    expect(phone.get_by_test_id("owed")).to_have_text("INR 5000.00")
    screenshot(phone, "debtor-home")

    phone.get_by_role("button", name=re.compile(r"^Pay in full")).tap()
    expect(phone).to_have_url(re.compile(r"/pay/sandbox/sbx_cs_"))
    expect(phone.get_by_test_id("sandbox-amount")).to_have_text("INR 5000.00")
    screenshot(phone, "sandbox")

    phone.get_by_test_id("sandbox-pay").tap()
    expect(phone.get_by_test_id("receipt")).to_contain_text("Payment received")
    expect(phone.get_by_text("Remaining balance: 0.00 INR.")).to_be_visible()
    screenshot(phone, "receipt")

    # The agent, at a desk, finds the payment on the debt page.
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("agent@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page).to_have_url(re.compile(r"/w/acme/"))
    page.goto(f"/w/acme/debts/{payable.debt.pk}/")
    expect(page.get_by_test_id("balance")).to_have_text("INR 0.00")
    expect(page.get_by_test_id("timeline")).to_contain_text("Payment 5000.00 INR")
    expect(page.get_by_test_id("payment-links")).to_contain_text("Paid")
    screenshot(page, "debt-after-payment")
