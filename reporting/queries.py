"""The building blocks of every figure: which debts a member sees, what counts as
collected, and periods in the workspace's time zone. Shared by the dashboard, the
client portal and the remittance statement, so they agree to the minor unit."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.utils import timezone

from accounts.models import Client, Membership, Workspace
from debtors.models import Debt, DebtStatus, EntryKind, LedgerEntry
from debtors.selectors import debts_visible_to

# Money in: a payment is a negative entry; a refund (or the reversal of a payment)
# is positive and gives money back; the reversal of a refund takes it again. The
# sum of these entries, negated, is what was collected.
COLLECTION = (
    Q(kind=EntryKind.PAYMENT)
    | Q(kind=EntryKind.REFUND)
    | Q(kind=EntryKind.REVERSAL, reverses__kind__in=[EntryKind.PAYMENT, EntryKind.REFUND])
)
# Statuses in which a debt is finished: no balance is being pursued.
FINISHED = frozenset(
    {DebtStatus.PAID, DebtStatus.SETTLED, DebtStatus.WRITTEN_OFF, DebtStatus.RECALLED, DebtStatus.CLOSED}
)
OPEN = ~Q(status__in=FINISHED)


# --- Periods ------------------------------------------------------------------------


def workspace_today(workspace: Workspace) -> date:
    """Today's date where the workspace works (its timezone), not the server's."""
    return timezone.localdate(timezone=ZoneInfo(workspace.timezone))


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def posted_between(start: datetime, end: datetime) -> Q:
    return Q(posted_at__gte=start, posted_at__lt=end)


# --- Debts and entries ----------------------------------------------------------------


def visible_debts(
    workspace: Workspace, membership: Membership, client: Client | None = None, *, any_currency: bool = False
) -> QuerySet[Debt]:
    """The debts a member sees — in the workspace's currency unless ``any_currency``:
    amounts in different currencies are never added up (``other_currencies`` says
    what the figures leave out)."""
    debts = debts_visible_to(workspace=workspace, membership=membership)
    if client is not None:
        debts = debts.filter(client=client)
    if not any_currency:
        debts = debts.filter(currency=workspace.currency)
    return debts


def entries_of(workspace: Workspace, debts: QuerySet[Debt]) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.for_workspace(workspace).filter(debt__in=debts.values("pk"))


def collected_sum(period: Q | None = None) -> Sum:
    """SUM of collection entries (negative: negate the result) within ``period``."""
    condition = COLLECTION if period is None else COLLECTION & period
    return Sum("amount_minor", filter=condition)


def entry_commission(bps: int) -> ExpressionWrapper:
    """``reporting.formatting.commission_minor`` in SQL, per entry (integer division
    truncates towards zero)."""
    return ExpressionWrapper(F("amount_minor") * Value(bps) / Value(10_000), output_field=BigIntegerField())


def commission_sum(bps: int, period: Q | None = None) -> Sum:
    """SUM of per-entry commissions (negative, like ``collected_sum``)."""
    condition = COLLECTION if period is None else COLLECTION & period
    return Sum(entry_commission(bps), filter=condition)


def negated(value: int | None) -> int:
    """A collection sum as money received (the entries are negative; None is 0)."""
    return -(value or 0)
