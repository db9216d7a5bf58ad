"""One-click opt-out links (12 CFR 1006.6(e), RFC 8058): a signed token naming the
workspace, the debtor and the channel, so the link works without signing in."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

OPT_OUT_SALT = "collectpro.optout"


def opt_out_token(*, workspace_id: int, debtor_id: str, channel: str) -> str:
    # Deterministic (no timestamp): an opt-out link must keep working for ever.
    return signing.Signer(salt=OPT_OUT_SALT).sign_object(
        {"w": workspace_id, "d": str(debtor_id), "c": channel}, compress=True
    )


def opt_out_url(*, workspace_id: int, debtor_id: str, channel: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(
        "opt_out", args=[opt_out_token(workspace_id=workspace_id, debtor_id=debtor_id, channel=channel)]
    )
