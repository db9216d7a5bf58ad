"""Every cookie CollectPro sets, in one registry. The cookie page is generated from
it, and a test checks it against the settings that actually set the cookies."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

CONSENT_COOKIE = "cp_cookie_consent"
ANALYTICS_COOKIE = "cp_analytics"


@dataclass(frozen=True)
class CookieInfo:
    name: str
    category: str  # necessary | preferences | analytics
    purpose: str
    retention: str
    http_only: bool


def cookie_registry() -> list[CookieInfo]:
    session_hours = settings.SESSION_COOKIE_AGE // 3600
    return [
        CookieInfo(
            settings.SESSION_COOKIE_NAME,
            "necessary",
            "Keeps you signed in and remembers a verified payment page.",
            f"{session_hours} hours",
            settings.SESSION_COOKIE_HTTPONLY,
        ),
        CookieInfo(
            settings.CSRF_COOKIE_NAME,
            "necessary",
            "Protects forms against cross-site request forgery.",
            "1 year",
            settings.CSRF_COOKIE_HTTPONLY,
        ),
        CookieInfo(CONSENT_COOKIE, "necessary", "Remembers your cookie choice so we don't ask again.", "1 year", True),
        CookieInfo(settings.LANGUAGE_COOKIE_NAME, "preferences", "Remembers the language you chose.", "1 year", False),
        CookieInfo(
            ANALYTICS_COOKIE,
            "analytics",
            "Counts visits to improve the pages (set only after you agree).",
            "13 months",
            True,
        ),
    ]
