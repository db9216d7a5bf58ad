"""Identity verification for rights requests (owned by the intake work; interface fixed).

- ``subject_match``: find the person a request is about from what the requester
  typed (never revealed to them).
- ``code_send``: a one-time code to a contact the workspace already holds for that
  person — never to one the requester typed; an unmatched request behaves the same
  from outside (no enumeration).
- ``code_check``: the code plus a knowledge check; on success the request is
  verified (``services.privacy_request_verified``).
- ``session_mark_verified`` / ``session_recently_verified``: the browser session
  that just verified may download the request's files for a short while
  (re-verification before a download)."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest

from privacy_requests.models import PrivacyRequest

RECENT = timedelta(minutes=15)


def session_mark_verified(http_request: HttpRequest, privacy_request: PrivacyRequest) -> None:
    raise NotImplementedError


def session_recently_verified(
    http_request: HttpRequest, privacy_request: PrivacyRequest, *, within: timedelta = RECENT
) -> bool:
    raise NotImplementedError
