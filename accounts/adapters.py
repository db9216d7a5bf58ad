from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from accounts.selectors import invitation_by_token
from accounts.services import sha256_hex
from kernel.tenancy.context import db_scope


class AccountAdapter(DefaultAccountAdapter):
    """Signup is by invitation only: the invitation link puts its token in the
    session, and only then is the signup form open."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        token = request.session.get("invitation_token")
        if not token:
            return False
        with db_scope(invitation_hash=sha256_hex(token)):
            invitation = invitation_by_token(token=token)
        return invitation is not None and invitation.is_pending

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        token = request.session.get("invitation_token")
        if token:
            return reverse("invitation_accept", args=[token])
        return super().get_signup_redirect_url(request)

    def populate_username(self, request: HttpRequest, user: Any) -> None:
        return None
