"""Headless-browser fixtures: Debian's Chromium driven by Playwright's sync API.

The browser talks to pytest-django's ``live_server``, so every test here uses a
transactional database (the server thread must see committed rows). Playwright's
sync API keeps an event loop running in the main thread for as long as the
(session-wide) browser lives; Django refuses ORM calls from a thread with a running
loop unless DJANGO_ALLOW_ASYNC_UNSAFE is set. These tests call the ORM between page
actions, and every test that runs after them in the same session shares the main
thread, hence the flag is set at import, for the whole session.

Without /usr/bin/chromium the tests are skipped locally, but fail in CI (CI=true):
a CI image that silently lost its browser must not turn the suite green.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import World, build_world

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "test-output" / "screenshots"
# Short enough that a broken page fails fast, long enough for a loaded CI machine.
TIMEOUT_MS = 10_000


def totp_code(secret: str, *, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP (HMAC-SHA1) for a base32 ``secret``, as an authenticator app shows it."""
    key = base64.b32decode(secret.replace(" ", "").upper(), casefold=True)
    counter = int((time.time() if at is None else at) // period)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**digits:0{digits}d}"


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing, and CI=true: browser tests must run in CI.")
        pytest.skip(f"{CHROMIUM} is missing; browser tests skipped (they run in CI).")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "en-GB"}


@contextmanager
def guarded_page(chromium: Browser, live_server: LiveServer, **context_options: Any) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, with the guards every
    browser test wants: no favicon race, and no Content-Security-Policy violation
    (invisible in a screenshot, but it breaks styles or scripts for real users)."""
    context = chromium.new_context(base_url=live_server.url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    # On in-memory SQLite the live server shares the test's one connection across
    # its request threads; Chromium's unprompted favicon request could otherwise run
    # a transaction concurrently with the page's own request.
    context.route("**/favicon.ico", lambda route: route.abort())
    page = context.new_page()
    csp_violations: list[str] = []
    page.on(
        "console",
        lambda msg: csp_violations.append(f"{page.url}: {msg.text}") if "Content Security Policy" in msg.text else None,
    )
    try:
        yield page
    finally:
        context.close()
    assert not csp_violations, "CSP violations:\n" + "\n".join(csp_violations)


@pytest.fixture
def page(chromium: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop-sized page."""
    with guarded_page(chromium, live_server, viewport={"width": 1280, "height": 900}) as desktop:
        yield desktop


@pytest.fixture
def browser_world(transactional_db: None) -> World:
    """tests/conftest.py's ``world``, committed so the live server can see it."""
    # allauth's rate limits and used-TOTP-code markers live in the (process-wide)
    # cache, which the live server shares with the test; start each test clean.
    cache.clear()
    return build_world()
