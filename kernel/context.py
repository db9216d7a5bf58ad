"""Per-request facts (request id, client IP, user agent, actor) kept in contextvars.

Set once by ``RequestContextMiddleware`` (or by a Celery task / command) and read by
the audit trail, so services never have to thread the request through.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestInfo:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    actor_user_id: int | None = None
    actor_api_key_id: str | None = None
    source: str = "system"  # web | api | task | cli | system


_info: contextvars.ContextVar[RequestInfo] = contextvars.ContextVar(
    "collectpro_request_info",
    default=RequestInfo(),  # noqa: B039  (frozen dataclass)
)


def current_request_info() -> RequestInfo:
    return _info.get()


@contextmanager
def request_info(**changes: object) -> Iterator[RequestInfo]:
    """Temporarily add facts (e.g. the acting user) to the current request info."""
    token = _info.set(replace(_info.get(), **changes))  # type: ignore[arg-type]
    try:
        yield _info.get()
    finally:
        _info.reset(token)


def set_request_info(info: RequestInfo) -> contextvars.Token[RequestInfo]:
    return _info.set(info)


def reset_request_info(token: contextvars.Token[RequestInfo]) -> None:
    _info.reset(token)


def update_request_info(**changes: object) -> None:
    """Record facts learned mid-request (the user after login, the API key)."""
    _info.set(replace(_info.get(), **changes))  # type: ignore[arg-type]
