"""What the public-page and verification tests share: a debtor in workspace A with
everything a knowledge check can ask (Meera), and helpers to submit a request and
read the code sent."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.core import mail
from django.test import Client as HttpClient

from accounts.models import Client, Workspace
from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from kernel.tenancy import workspace_context
from privacy_requests.models import PrivacyRequest

NEW = "/privacy/acme/requests/new/"
REFERENCE_RE = re.compile(r"PR-[23456789A-HJKMNP-Z]{6}")


def make_meera(workspace: Workspace, *, email: str | None = "meera@example.com") -> Debtor:
    with workspace_context(workspace):
        debtor = debtor_create(
            workspace=workspace,
            data=DebtorInput(
                full_name="Meera Iyer",
                email=email or "",
                phone="+91 98765 43210",
                date_of_birth=date(1990, 5, 17),
                national_id="ABCPI1234K",
            ),
        )
        debt_create(
            workspace=workspace,
            client=Client.objects.for_workspace(workspace).order_by("created_at").first(),  # type: ignore[arg-type]
            debtor=debtor,
            data=DebtInput(reference="PAY-1", original_amount_minor=500_000, currency=workspace.currency),
        )
    return debtor


def request_data(**changes: Any) -> dict[str, Any]:
    data = {
        "type": "access",
        "name": "Meera Iyer",
        "contact": "typed-by-requester@example.net",
        "identifier": "PAY-1",
        "details": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def submit(http: HttpClient, capture: Any, **changes: Any) -> tuple[Any, str]:
    """POST a new request (running what waits for the commit: the code task) and
    return the response and the reference it shows."""
    with capture(execute=True):
        response = http.post(NEW, request_data(**changes))
    found = REFERENCE_RE.search(response.content.decode())
    return response, found.group(0) if found else ""


def code_from_mail(to: str) -> str:
    """The code in the latest email to ``to``."""
    message = [m for m in mail.outbox if to in m.to][-1]
    found = re.search(r"\b(\d{6})\b", str(message.body))
    assert found, message.body
    return found.group(1)


def request_by_reference(workspace: Workspace, reference: str) -> PrivacyRequest:
    with workspace_context(workspace):
        return PrivacyRequest.objects.get(reference=reference)


def verify_url(reference: str, slug: str = "acme") -> str:
    return f"/privacy/{slug}/requests/{reference}/verify/"


def status_url(reference: str, slug: str = "acme") -> str:
    return f"/privacy/{slug}/requests/{reference}/"
