"""Public consent pages: one-click opt-out, policy pages, sub-processors, cookies."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Workspace
from consent.models import CHANNEL_PURPOSE, ConsentAction, ConsentSource
from consent.optout import OPT_OUT_SALT
from consent.services import consent_current, consent_record
from kernel.tenancy import workspace_context


def _decode(token: str) -> dict[str, Any] | None:
    try:
        data = signing.Signer(salt=OPT_OUT_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    return data if isinstance(data, dict) and data.get("c") in CHANNEL_PURPOSE else None


@csrf_exempt  # RFC 8058 one-click unsubscribe POSTs come from mail providers, without a CSRF token
def opt_out(request: HttpRequest, token: str) -> HttpResponse:
    """One click (GET or the RFC 8058 POST) withdraws consent for that channel at
    once; the page offers to undo it."""
    data = _decode(token)
    if data is None:
        return render(request, "consent/opt_out.html", {"invalid": True}, status=404)
    workspace = Workspace.objects.filter(pk=data["w"]).first()
    if workspace is None:
        return render(request, "consent/opt_out.html", {"invalid": True}, status=404)
    purpose = CHANNEL_PURPOSE[data["c"]]
    undo = request.method == "POST" and request.POST.get("undo") == "1"
    with workspace_context(workspace):
        state = consent_current(workspace=workspace, subject_type="debtor", subject_id=data["d"]).get(purpose)
        wanted = ConsentAction.GRANT if undo else ConsentAction.WITHDRAW
        if (state or ConsentAction.GRANT) != wanted:
            consent_record(
                workspace=workspace,
                subject_type="debtor",
                subject_id=data["d"],
                purpose=purpose,
                action=wanted,
                source=ConsentSource.OPT_OUT_LINK,
                lawful_basis="legitimate_interests",
            )
    return render(
        request,
        "consent/opt_out.html",
        {"agency": workspace.name, "channel": data["c"], "undone": undo, "token": token},
    )
