"""The reporting app's only write: recording that a client statement left the
system. (Everything else here reads.)"""

from __future__ import annotations

from datetime import date

from accounts.models import Client, Workspace
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record


def statement_download_record(*, workspace: Workspace, client: Client, month: date) -> AuditEvent:
    """Record a download of ``client``'s statement for ``month``, before its first
    byte is sent (a statement lists the client's collections for the month)."""
    return audit_record(
        action=actions.STATEMENT_DOWNLOADED,
        workspace=workspace,
        obj=client,
        metadata={"client_id": str(client.pk), "month": f"{month:%Y-%m}"},
    )
