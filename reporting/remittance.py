"""Remittance: what each client is owed for a period — collected minus commission.

Collected = payments posted in the period minus refunds and reversals of payments
posted in the period (money that came back out). Commission is computed per entry
and truncated towards zero (reporting.formatting.commission_minor), the same rule the
client portal and its statements use, so every figure of a period agrees.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Client
from debtors.models import LedgerEntry
from debtors.services.money import from_minor
from reporting.queries import COLLECTION, entry_commission


def _zone(workspace: Any) -> ZoneInfo:
    return ZoneInfo(getattr(workspace, "timezone", "") or "UTC")


def parse_period(period: str, *, workspace: Any = None) -> tuple[date, date]:
    """The calendar month ``YYYY-MM`` (default: the current month in the
    workspace's time zone) as [first day, first day of the next month)."""
    if not period:
        start = timezone.now().astimezone(_zone(workspace)).date().replace(day=1)
    else:
        try:
            start = datetime.strptime(period, "%Y-%m").date()  # noqa: DTZ007 (a calendar month)
        except ValueError:
            raise ValueError("Use YYYY-MM.") from None
    end = date(start.year + (start.month // 12), start.month % 12 + 1, 1)
    return start, end


def remittance_rows(*, workspace: Any, start: date, end: date, client: Client | None = None) -> list[dict[str, Any]]:
    """One row per client and currency (amounts in different currencies are never
    added up), for entries posted from ``start`` to ``end`` — midnights in the
    workspace's time zone, the same months as the client portal and statements."""
    tz = _zone(workspace)
    since, until = datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end, time.min, tzinfo=tz)
    qs = LedgerEntry.objects.for_workspace(workspace).filter(COLLECTION, posted_at__gte=since, posted_at__lt=until)
    if client is not None:
        qs = qs.filter(debt__client=client)
    clients = (
        list(Client.objects.for_workspace(workspace).filter(pk__in=qs.values("debt__client_id")))
        if client is None
        else [client]
    )
    rows = []
    for c in sorted(clients, key=lambda c: c.reference):
        by_currency = list(
            qs.filter(debt__client=c)
            .values("currency")
            .annotate(total=Sum("amount_minor"), commission=Sum(entry_commission(c.commission_rate_bps)))
            .order_by("currency")
        ) or [{"currency": getattr(workspace, "currency", ""), "total": 0, "commission": 0}]
        for sums in by_currency:
            currency = str(sums["currency"])
            collected = -(sums["total"] or 0)  # payments are negative entries
            commission = -(sums["commission"] or 0)
            rows.append(
                {
                    "client_id": str(c.pk),
                    "client_ref": c.reference,
                    "client": c.name,
                    "currency": currency,
                    "collected_minor": collected,
                    "commission_minor": commission,
                    "net_minor": collected - commission,
                    "collected": from_minor(collected, currency),
                    "commission": from_minor(commission, currency),
                    "net": from_minor(collected - commission, currency),
                    "commission_rate_bps": c.commission_rate_bps,
                }
            )
    return rows


def remittance_statement(*, workspace: Any, period: str, client: Client | None = None) -> dict[str, Any]:
    start, end = parse_period(period, workspace=workspace)
    return {
        "period": start.strftime("%Y-%m"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "clients": remittance_rows(workspace=workspace, start=start, end=end, client=client),
    }
