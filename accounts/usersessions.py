from __future__ import annotations

from typing import Any

from allauth.usersessions.adapter import DefaultUserSessionsAdapter

from accounts.signals import record_user_event
from audit import actions


class UserSessionsAdapter(DefaultUserSessionsAdapter):
    """'Sign out everywhere else' ends the sessions and records it."""

    def end_sessions(self, sessions: Any) -> None:
        sessions = list(sessions)
        super().end_sessions(sessions)
        if sessions:
            record_user_event(sessions[0].user, actions.SESSIONS_SIGNED_OUT, {"count": len(sessions)})
