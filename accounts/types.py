"""Who did something: the typed actor services take instead of ``Any``."""

from __future__ import annotations

from typing import TypeAlias

from django.http import HttpRequest

from accounts.models import ApiKey, User

# A signed-in user, an API key acting for a client, or the system (a task, a
# webhook, the command line) when None.
Actor: TypeAlias = User | ApiKey | None


def actor_user(actor: Actor) -> User | None:
    """The user behind an action, for ``created_by`` columns (None for keys and the system)."""
    return actor if isinstance(actor, User) else None


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a request that a workspace view has already let in."""
    assert isinstance(request.user, User)
    return request.user
