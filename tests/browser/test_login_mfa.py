"""Sign-in, two-factor authentication and lockout, as a person in a browser sees them."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from accounts.services import workspace_update_settings
from kernel.tenancy import workspace_context
from tests.browser.conftest import screenshot, totp_code
from tests.conftest import PASSWORD, World, add_member

pytestmark = pytest.mark.browser

WRONG_PASSWORD = "not-the-password-at-all-1"


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def fresh_code(secret: str) -> str:
    """A code that will not expire before the server checks it (allauth accepts only
    the current 30-second step)."""
    if 30 - time.time() % 30 < 3:
        time.sleep(30 - time.time() % 30 + 0.2)
    return totp_code(secret)


def activate_totp(page: Page, *, password: str, shot: str | None = None) -> str:
    """On the TOTP activation page (after confirming the password if asked), read the
    secret the page shows, answer with a code from it; return the secret."""
    expect(page.get_by_role("heading", name=re.compile("Confirm Access|Activate Authenticator App"))).to_be_visible()
    if page.get_by_role("heading", name="Confirm Access").is_visible():
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^[A-Z2-7]{16,}$"))).to_be_visible()  # the QR code
    secret = page.get_by_label("Authenticator secret").input_value()
    assert re.fullmatch(r"[A-Z2-7]+=*", secret), secret
    if shot:
        screenshot(page, shot)
    page.get_by_label("Authenticator code").fill(fresh_code(secret))
    page.get_by_role("button", name="Activate").click()
    # allauth hands out recovery codes with the first authenticator.
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    return secret


def test_member_signs_in_to_their_dashboard(page: Page, browser_world: World) -> None:
    page.goto("/w/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/w/acme/"))
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    screenshot(page, "login")

    sign_in(page, "alice@example.com", WRONG_PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_text("The email address and/or password you specified are not correct.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_have_count(0)
    screenshot(page, "login-wrong-password")

    sign_in(page, "alice@example.com", PASSWORD)
    expect(page).to_have_url(re.compile(r"/w/acme/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Collections")
    expect(page.get_by_role("status")).to_contain_text("Successfully signed in as alice@example.com.")
    screenshot(page, "dashboard")

    # Another tenant's workspace does not exist as far as alice can tell.
    response = page.goto("/w/globex/")
    assert response is not None and response.status == 404
    expect(page.get_by_text("Globex Recovery")).to_have_count(0)


def test_user_enables_totp_and_next_sign_in_asks_for_a_code(page: Page, browser_world: World) -> None:
    sign_in(page, "alice@example.com", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Collections")

    page.get_by_role("link", name="Security").click()
    expect(page).to_have_url(re.compile(r"/account/security/$"))
    expect(page.get_by_text("Protect your account with an authenticator app")).to_be_visible()
    page.get_by_role("button", name="Manage two-factor authentication").click()
    expect(page.get_by_text("An authenticator app is not active.")).to_be_visible()
    page.get_by_role("link", name="Activate").click()
    secret = activate_totp(page, password=PASSWORD, shot="mfa-setup")
    expect(page.locator("textarea#recovery_codes")).not_to_be_empty()
    screenshot(page, "mfa-recovery-codes")

    page.goto("/account/security/")
    expect(page.get_by_text("You have 2 authenticators")).to_be_visible()

    sign_out(page)
    sign_in(page, "alice@example.com", PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.get_by_text("Please enter an authenticator code")).to_be_visible()
    screenshot(page, "mfa-code-prompt")
    # Not signed in yet: opening the workspace leads back to the code prompt.
    page.goto("/w/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    expect(page.get_by_role("heading", name="Acme Collections")).to_have_count(0)

    right = fresh_code(secret)
    wrong = "000000" if right != "000000" else "111111"
    page.locator("input[name=code]").fill(wrong)
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))

    page.locator("input[name=code]").fill(fresh_code(secret))
    page.get_by_role("button", name="Sign In", exact=True).click()
    expect(page).to_have_url(re.compile(r"/w/acme/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Collections")


def test_workspace_requiring_mfa_sends_member_to_set_it_up(page: Page, browser_world: World) -> None:
    world = browser_world
    with workspace_context(world.a):
        workspace_update_settings(workspace=world.a, actor=world.alice, require_mfa=True)
    add_member(world.a, "dave@example.com")

    sign_in(page, "dave@example.com", PASSWORD)
    expect(page).to_have_url(re.compile(r"/mfa-required/acme/$"))
    expect(page.get_by_role("heading", name="Two-factor authentication is required")).to_be_visible()
    screenshot(page, "mfa-required")
    for path in ("/w/acme/", "/w/acme/settings/"):
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/mfa-required/acme/$"))
    expect(page.get_by_role("heading", name="Acme Collections")).to_have_count(0)

    page.get_by_role("button", name="Set up two-factor authentication").click()
    activate_totp(page, password=PASSWORD)

    page.goto("/w/acme/")
    expect(page).to_have_url(re.compile(r"/w/acme/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Collections")


def submit_login(page: Page, email: str, password: str) -> int:
    """Sign in through the form; return the HTTP status of the form's answer."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_response(lambda r: r.url.endswith("/accounts/login/") and r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign In", exact=True).click()
    page.wait_for_load_state()
    return answer.value.status


def test_five_wrong_passwords_lock_the_sign_in(page: Page, browser_world: World) -> None:
    for attempt in range(1, 5):
        assert submit_login(page, "alice@example.com", f"{WRONG_PASSWORD}-{attempt}") == 200
        expect(page.get_by_text("password you specified are not correct")).to_be_visible()
    # The fifth failure is the one that locks (AXES_FAILURE_LIMIT = 5).
    assert submit_login(page, "alice@example.com", f"{WRONG_PASSWORD}-5") == 429
    expect(page.get_by_role("heading", name="Sign-in temporarily locked")).to_be_visible()

    # Sixth attempt, right password: still locked, and not signed in.
    assert submit_login(page, "alice@example.com", PASSWORD) == 429
    expect(page.get_by_role("heading", name="Sign-in temporarily locked")).to_be_visible()
    expect(page.get_by_text("locked for 30 minutes")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_have_count(0)
    screenshot(page, "locked-out")
    page.goto("/w/acme/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    # The lock is for alice's address from this network, not for everyone here.
    sign_in(page, "bob@example.com", PASSWORD)
    expect(page).to_have_url(re.compile(r"/w/globex/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Globex Recovery")
