"""Remittance: what each client is owed for a period — collected minus commission.

Collected = payments posted in the period minus refunds and reversals of payments
posted in the period (money that came back out). Commission is computed per entry
and truncated towards zero (debtors.dashboard.commission_minor), the same rule the
client portal and its statements use, so every figure of a period agrees.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from debtors.models import Client, LedgerEntry
from debtors.services.money import from_minor


def parse_period(period: str) -> tuple[date, date]:
    today = timezone.localdate()
    if not period:
        start = today.replace(day=1)
    else:
        try:
            start = datetime.strptime(period, "%Y-%m").date()  # noqa: DTZ007 (a calendar month)
        except ValueError:
            raise ValueError("Use YYYY-MM.") from None
    end = date(start.year + (start.month // 12), start.month % 12 + 1, 1)
    return start, end


def remittance_rows(*, workspace: Any, start: date, end: date, client: Client | None = None) -> list[dict[str, Any]]:
    tz = timezone.get_current_timezone()
    since, until = datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end, time.min, tzinfo=tz)
    from debtors.dashboard import COLLECTION, entry_commission

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
        sums = qs.filter(debt__client=c).aggregate(
            total=Sum("amount_minor"), commission=Sum(entry_commission(c.commission_rate_bps))
        )
        currency = str(
            qs.filter(debt__client=c).values_list("currency", flat=True).first() or getattr(workspace, "currency", "")
        )
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
    start, end = parse_period(period)
    return {
        "period": start.strftime("%Y-%m"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "clients": remittance_rows(workspace=workspace, start=start, end=end, client=client),
    }
