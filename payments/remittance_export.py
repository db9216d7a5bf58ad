"""The remittance statement as CSV: per client, collected, commission and net — no
debtor data. Each download is audited."""

from __future__ import annotations

from typing import Any

from accounts.models import Client, User, Workspace
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record

REMITTANCE_HEADER = [
    "period",
    "client_ref",
    "client",
    "currency",
    "commission_rate_bps",
    "collected",
    "commission",
    "net",
]


def remittance_export_record(
    *, workspace: Workspace, period: str, client: Client | None, rows: int, actor: User
) -> AuditEvent:
    """Record who downloaded which month's statement (whose client, if scoped) and
    how many lines it had."""
    return audit_record(
        action=actions.REMITTANCE_EXPORTED,
        workspace=workspace,
        actor_user_id=actor.pk,
        metadata={"period": period, "client_id": str(client.pk) if client else "", "rows": rows},
    )


def remittance_csv_line(period: str, row: dict[str, Any]) -> list[Any]:
    """One statement line in ``REMITTANCE_HEADER`` order."""
    return [
        period,
        _csv_text(row["client_ref"]),
        _csv_text(row["client"]),
        row["currency"],
        row["commission_rate_bps"],
        row["collected"],
        row["commission"],
        row["net"],
    ]


def _csv_text(value: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
