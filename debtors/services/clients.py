from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Workspace
from audit.services import audit_record
from debtors.models import Client


def client_create(*, workspace: Workspace, name: str, reference: str, commission_rate_bps: int = 0) -> Client:
    """Create a creditor. The reference is unique within the workspace."""
    client = Client(
        workspace=workspace,
        name=name.strip(),
        reference=reference.strip(),
        commission_rate_bps=commission_rate_bps,
    )
    client.full_clean(exclude=["workspace"])
    if Client.objects.for_workspace(workspace).filter(reference=client.reference).exists():
        raise ValidationError({"reference": "A client with this reference already exists."})
    with transaction.atomic():
        client.save(force_insert=True)
        audit_record(action="client.created", workspace=workspace, obj=client)
    return client


DIRECT_REFERENCE = "DIRECT"


def client_default(*, workspace: Workspace) -> Client:
    """The workspace's own portfolio, used when a debt is placed without a client
    (a creditor collecting its own debts)."""
    client = Client.objects.for_workspace(workspace).filter(reference=DIRECT_REFERENCE).first()
    if client is None:
        client = client_create(workspace=workspace, name=f"{workspace.name} (direct)", reference=DIRECT_REFERENCE)
    return client
