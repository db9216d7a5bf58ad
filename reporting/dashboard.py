"""Dashboard and client-portal figures: aggregate queries over the debts a member
may see, returned as plain dicts and cached briefly.

Rules every function here keeps:

* **Visibility.** Figures are computed only over ``debts_visible_to(workspace,
  membership)`` (agents: their assigned debts; client users: their client's
  debts; everyone with ``debts.view_all``: the workspace). The one rule lives in
  that selector; here it is used as a subquery.
* **Aggregates, not loops.** Each figure set is one or two ``GROUP BY``/aggregate
  queries; Python only fills gaps (missing days, empty buckets) and merges at
  most one row per client, agent, bucket or day — never one per debt or payment.
  The number of queries does not grow with the number of debts (a test checks it).
* **Money.** Integers in minor units of the workspace's currency
  (``workspace.currency``); rates are integer basis points. No floats. Debts in
  other currencies are left out of the figures (never added to them) and
  reported apart by ``other_currencies``; a client statement lists every
  currency, each line in its own.
* **What "collected" means.** Money received: payments, less refunds and
  reversals of payments (and plus reversals of refunds). The posting time
  (``posted_at``, in the workspace's timezone) decides the day and month, because
  it cannot be back-dated: a statement for a closed month never changes.
* **Caching policy.** Each figure set is cached for ``CACHE_SECONDS`` (60 s) under
  a key made of the workspace id and currency, the membership id, its role and
  client scope, the client being viewed (portal) and ``today``. Nothing is ever
  invalidated: a new payment appears within a minute, which is the policy — a
  short TTL is simpler and safer than invalidation spread over every service that
  writes the ledger. Because the key holds the membership, role and client scope,
  a member never sees figures computed for a wider or narrower scope.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from time import perf_counter, time_ns
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import BigIntegerField, Case, Count, ExpressionWrapper, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from accounts.models import Client, Membership, Workspace
from accounts.roles import can
from debtors.models import Debt, DebtStatus, EntryKind, LedgerEntry, PromiseStatus, PromiseToPay
from debtors.selectors import debts_visible_to
from debtors.services.money import from_minor

CACHE_SECONDS = 60
CACHE_VERSION = 2  # 2: figures in the workspace currency only
COLLECTIONS_DAYS = 30
PORTAL_MONTHS = 12
MAX_CLIENTS = 12
MAX_AGENTS = 20

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

# Aging by days past the due date (a debt not yet due is "current", in 0–30).
AGING_BUCKETS: tuple[tuple[str, str, int | None], ...] = (
    ("0-30", "0–30 days", 30),
    ("31-60", "31–60 days", 60),
    ("61-90", "61–90 days", 90),
    ("91-180", "91–180 days", 180),
    ("180+", "Over 180 days", None),
)
NO_DUE_DATE = ("none", "No due date")

T = TypeVar("T")


# --- Helpers ----------------------------------------------------------------


def workspace_today(workspace: Workspace) -> date:
    """Today's date where the workspace works (its timezone), not the server's."""
    return timezone.localdate(timezone=ZoneInfo(workspace.timezone))


def money(minor: int | None, currency: str) -> str:
    """12345600 INR → '123,456.00' (thousands grouped for reading; sign kept)."""
    text = from_minor(minor or 0, currency)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + dot + fraction


def rate_bps(part: int, whole: int) -> int | None:
    """``part / whole`` in basis points (integer, rounded half up); None if whole is 0."""
    if whole <= 0:
        return None
    return (part * 10_000 * 2 + whole) // (whole * 2)


def format_bps(bps: int | None) -> str:
    """1234 → '12.3%'; None → '—'."""
    if bps is None:
        return "—"
    sign = "-" if bps < 0 else ""
    tenths = (abs(bps) + 5) // 10
    return f"{sign}{tenths // 10}.{tenths % 10}%"


def commission_minor(collected_minor: int, bps: int) -> int:
    """The commission on one collected amount: ``amount × bps / 10000`` truncated
    towards zero, so a payment and its refund cancel exactly and the client is
    never over-charged. The SQL aggregates below compute the same thing per entry
    (integer division truncates towards zero on PostgreSQL and SQLite), so a
    statement's lines add up to the portal's totals."""
    sign = -1 if collected_minor < 0 else 1
    return sign * (abs(collected_minor) * bps // 10_000)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _scope_key(membership: Membership) -> str:
    # Everyone who sees the whole workspace sees the same figures: share one entry.
    if membership.client_id is None and can(membership, "debts.view_all"):
        return "all"
    return f"m{membership.pk}:{membership.role}:c{membership.client_id or '-'}"


_force_refresh: ContextVar[bool] = ContextVar("dashboard_force_refresh", default=False)
SLOW_SECONDS = 0.25


def figures_changed(workspace_id: int) -> None:
    """Called when money moves (debtors.services.ledger): the next dashboard view
    recomputes instead of showing the last minute's figures."""
    cache.set(f"dashboard-gen:w{workspace_id}", time_ns(), None)


def on_ledger_changed(sender: Any, *, workspace_id: int, **kwargs: Any) -> None:
    """Receiver of ``debtors.signals.ledger_changed``."""
    figures_changed(workspace_id)


def _cached(
    name: str, workspace: Workspace, membership: Membership, today: date, compute: Callable[[], T], extra: str = ""
) -> T:
    """Brief caching that stays fast at any size.

    * Small workspaces: an entry lives ``CACHE_SECONDS`` and is recomputed as soon as
      money moves (``figures_changed``), so an agent sees their payment at once.
    * Large ones (the last computation took over ``SLOW_SECONDS``): requests always
      answer from the cache — never a multi-second aggregate in a page view — and
      the ``dashboard_warm`` beat task recomputes the whole-workspace figures every
      minute. The page says how old the figures are.
    """
    generation = cache.get(f"dashboard-gen:w{workspace.pk}", 0)
    key = f"dashboard:v{CACHE_VERSION}:{name}:w{workspace.pk}:{workspace.currency}:{_scope_key(membership)}:{extra}:{today.isoformat()}"
    entry = cache.get(key)
    now = time_ns()
    if entry is not None and not _force_refresh.get():
        fresh = entry["gen"] == generation and now - entry["at"] < CACHE_SECONDS * 1_000_000_000
        if fresh or entry["slow"]:
            return cast(T, entry["data"])
    started = perf_counter()
    data = compute()
    slow = perf_counter() - started > SLOW_SECONDS
    cache.set(key, {"gen": generation, "at": now, "slow": slow, "data": data}, 3600 if slow else CACHE_SECONDS)
    return data


def warm(*, workspace: Workspace) -> int:
    """Recompute the whole-workspace figures (the beat task's job). Returns how many
    figure sets were refreshed."""
    owner = Membership.objects.for_workspace(workspace).filter(role="owner", client__isnull=True).first()
    if owner is None:
        return 0
    today = workspace_today(workspace)
    token = _force_refresh.set(True)
    try:
        args: dict[str, Any] = {"workspace": workspace, "membership": owner, "today": today}
        overview(**args)
        collections_by_day(**args)
        aging_buckets(**args)
        clients_liquidation(**args)
        promise_outcomes(**args)
        agent_leaderboard(**args)
        other_currencies(**args)
    finally:
        _force_refresh.reset(token)
    return 7


def _visible(
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


def other_currencies(
    *, workspace: Workspace, membership: Membership, today: date, client: Client | None = None
) -> list[dict[str, Any]]:
    """Visible debts in currencies other than the workspace's, which the figures
    leave out: per currency, the number of debts, open debts and what they still
    owe. One aggregate query; usually an empty list."""

    def compute() -> list[dict[str, Any]]:
        rows = (
            _visible(workspace, membership, client, any_currency=True)
            .exclude(currency=workspace.currency)
            .values("currency")
            .annotate(debts=Count("id"), outstanding=Sum("balance_minor", filter=OPEN))
            .order_by("currency")
        )
        return [{"currency": r["currency"], "debts": r["debts"], "outstanding": r["outstanding"] or 0} for r in rows]

    extra = f"client{client.pk}" if client is not None else ""
    return _cached("other_currencies", workspace, membership, today, compute, extra=extra)


def _entries(workspace: Workspace, debts: QuerySet[Debt]) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.for_workspace(workspace).filter(debt__in=debts.values("pk"))


def _collected(period: Q | None = None) -> Sum:
    """SUM of collection entries (negative: negate the result) within ``period``."""
    condition = COLLECTION if period is None else COLLECTION & period
    return Sum("amount_minor", filter=condition)


def entry_commission(bps: int) -> ExpressionWrapper:
    """``commission_minor`` in SQL, per entry (integer division truncates towards zero)."""
    return ExpressionWrapper(F("amount_minor") * Value(bps) / Value(10_000), output_field=BigIntegerField())


def _commission(bps: int, period: Q | None = None) -> Sum:
    """SUM of per-entry commissions (negative, like ``_collected``)."""
    condition = COLLECTION if period is None else COLLECTION & period
    return Sum(entry_commission(bps), filter=condition)


def _posted_between(start: datetime, end: datetime) -> Q:
    return Q(posted_at__gte=start, posted_at__lt=end)


def _neg(value: int | None) -> int:
    return -(value or 0)


def has_visible_debts(*, workspace: Workspace, membership: Membership) -> bool:
    """Not cached: decides between the charts and the empty state (one EXISTS)."""
    return debts_visible_to(workspace=workspace, membership=membership).exists()


def workspace_has_debts(*, workspace: Workspace) -> bool:
    return Debt.objects.for_workspace(workspace).exists()


# --- Dashboard figure sets ----------------------------------------------------


def overview(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Headline figures: the portfolio (debts, placed, outstanding), collections
    this month, last month (whole and to the same day) and to date, and the
    recovery rate (collected to date / placed). Two aggregate queries."""

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        debts = _visible(workspace, membership)
        portfolio = debts.aggregate(
            debts=Count("id"),
            open_debts=Count("id", filter=OPEN),
            placed=Sum("original_amount_minor"),
            outstanding=Sum("balance_minor", filter=OPEN),
        )
        this_start = _month_start(today)
        last_start = _add_months(this_start, -1)
        last_same_day = min(last_start + timedelta(days=today.day), this_start)
        tomorrow = _midnight(today + timedelta(days=1), tz)
        this_month = _posted_between(_midnight(this_start, tz), tomorrow)
        sums = _entries(workspace, debts).aggregate(
            this_month=_collected(this_month),
            last_month=_collected(_posted_between(_midnight(last_start, tz), _midnight(this_start, tz))),
            last_month_to_date=_collected(_posted_between(_midnight(last_start, tz), _midnight(last_same_day, tz))),
            to_date=_collected(Q(posted_at__lt=tomorrow)),
            payments_this_month=Count("id", filter=Q(kind=EntryKind.PAYMENT) & this_month),
        )
        placed = portfolio["placed"] or 0
        collected = _neg(sums["to_date"])
        return {
            "currency": workspace.currency,
            "debts": portfolio["debts"],
            "open_debts": portfolio["open_debts"],
            "placed": placed,
            "outstanding": portfolio["outstanding"] or 0,
            "collected_this_month": _neg(sums["this_month"]),
            "collected_last_month": _neg(sums["last_month"]),
            "collected_last_month_to_date": _neg(sums["last_month_to_date"]),
            "collected_to_date": collected,
            "payments_this_month": sums["payments_this_month"],
            "recovery_bps": rate_bps(collected, placed),
            "this_month_label": this_start.strftime("%B %Y"),
            "last_month_label": last_start.strftime("%B %Y"),
            "same_day": today.day,
        }

    return _cached("overview", workspace, membership, today, compute)


def collections_by_day(
    *, workspace: Workspace, membership: Membership, today: date, days: int = COLLECTIONS_DAYS
) -> dict[str, Any]:
    """Net collections per day (workspace timezone) over the last ``days`` days,
    today included; days without money are zeros. One GROUP BY query."""

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        first = today - timedelta(days=days - 1)
        rows = (
            _entries(workspace, _visible(workspace, membership))
            .filter(COLLECTION, _posted_between(_midnight(first, tz), _midnight(today + timedelta(days=1), tz)))
            .annotate(day=TruncDate("posted_at", tzinfo=tz))
            .values("day")
            .annotate(total=Sum("amount_minor"), payments=Count("id", filter=Q(kind=EntryKind.PAYMENT)))
            .order_by("day")
        )
        by_day = {row["day"]: row for row in rows}
        series = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            row = by_day.get(day, {})
            series.append({"date": day, "amount": _neg(row.get("total")), "payments": row.get("payments", 0)})
        return {"currency": workspace.currency, "days": series, "total": sum(d["amount"] for d in series)}

    return _cached("by_day", workspace, membership, today, compute, extra=str(days))


def aging_buckets(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Open debts with a balance, bucketed by days past their due date (0–30,
    31–60, 61–90, 91–180, over 180): count and outstanding amount. One query; the
    bucket is a CASE over ``due_date`` relative to ``today``."""

    def compute() -> dict[str, Any]:
        whens = [
            When(due_date__gte=today - timedelta(days=limit), then=Value(key))
            for key, _label, limit in AGING_BUCKETS
            if limit is not None
        ]
        whens.append(When(due_date__isnull=False, then=Value(AGING_BUCKETS[-1][0])))
        rows = (
            _visible(workspace, membership)
            .filter(OPEN, balance_minor__gt=0)
            .annotate(bucket=Case(*whens, default=Value(NO_DUE_DATE[0])))
            .values("bucket")
            .annotate(count=Count("id"), amount=Sum("balance_minor"))
            .order_by()
        )
        found = {row["bucket"]: row for row in rows}
        buckets = [
            {
                "key": key,
                "label": label,
                "count": found.get(key, {}).get("count", 0),
                "amount": found.get(key, {}).get("amount") or 0,
            }
            for key, label, _limit in AGING_BUCKETS
        ]
        if NO_DUE_DATE[0] in found:
            row = found[NO_DUE_DATE[0]]
            buckets.append(
                {"key": NO_DUE_DATE[0], "label": NO_DUE_DATE[1], "count": row["count"], "amount": row["amount"] or 0}
            )
        return {"currency": workspace.currency, "buckets": buckets, "total": sum(b["amount"] for b in buckets)}

    return _cached("aging", workspace, membership, today, compute)


def clients_liquidation(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Per client: debts, placed, outstanding, collected to date and the
    liquidation rate (collected / placed). Two GROUP BY queries; the largest
    ``MAX_CLIENTS`` portfolios by placed amount are listed."""

    def compute() -> dict[str, Any]:
        debts = _visible(workspace, membership)
        placed_rows = (
            debts.values("client_id", "client__name")
            .annotate(
                debts=Count("id"), placed=Sum("original_amount_minor"), outstanding=Sum("balance_minor", filter=OPEN)
            )
            .order_by("-placed", "client__name")
        )
        clients = list(placed_rows)
        collected = {
            row["debt__client_id"]: _neg(row["total"])
            for row in _entries(workspace, debts)
            .filter(COLLECTION)
            .values("debt__client_id")
            .annotate(total=Sum("amount_minor"))
            .order_by()
        }
        rows = []
        for row in clients[:MAX_CLIENTS]:
            got = collected.get(row["client_id"], 0)
            placed = row["placed"] or 0
            rows.append(
                {
                    "id": row["client_id"],
                    "name": row["client__name"],
                    "debts": row["debts"],
                    "placed": placed,
                    "outstanding": row["outstanding"] or 0,
                    "collected": got,
                    "liquidation_bps": rate_bps(got, placed),
                }
            )
        return {"currency": workspace.currency, "clients": rows, "client_count": len(clients)}

    return _cached("clients", workspace, membership, today, compute)


def promise_outcomes(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Promises to pay made on visible debts, by outcome, and the keep rate
    (kept / (kept + broken)). One aggregate query."""

    def compute() -> dict[str, Any]:
        counts = (
            PromiseToPay.objects.for_workspace(workspace)
            .filter(debt__in=_visible(workspace, membership).values("pk"))
            .aggregate(
                kept=Count("id", filter=Q(status=PromiseStatus.KEPT)),
                broken=Count("id", filter=Q(status=PromiseStatus.BROKEN)),
                pending=Count("id", filter=Q(status=PromiseStatus.PENDING)),
            )
        )
        return {**counts, "keep_rate_bps": rate_bps(counts["kept"], counts["kept"] + counts["broken"])}

    return _cached("promises", workspace, membership, today, compute)


def can_see_leaderboard(membership: Membership) -> bool:
    """Managers, owners, admins and auditors — never agents or client users."""
    return membership.client_id is None and can(membership, "debts.view_all")


def agent_leaderboard(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any] | None:
    """Per assigned member: collected this month on the debts assigned to them,
    open debts and outstanding balance, best first. None for members who may not
    see it. Two GROUP BY queries."""
    if not can_see_leaderboard(membership):
        return None

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        debts = _visible(workspace, membership).filter(assigned_agent__isnull=False)
        portfolios = (
            debts.values("assigned_agent_id", "assigned_agent__email", "assigned_agent__full_name")
            .annotate(
                debts=Count("id"), open_debts=Count("id", filter=OPEN), outstanding=Sum("balance_minor", filter=OPEN)
            )
            .order_by()
        )
        this_month = _posted_between(_midnight(_month_start(today), tz), _midnight(today + timedelta(days=1), tz))
        collected = {
            row["debt__assigned_agent_id"]: (_neg(row["total"]), row["payments"])
            for row in _entries(workspace, debts)
            .filter(COLLECTION, this_month)
            .values("debt__assigned_agent_id")
            .annotate(total=Sum("amount_minor"), payments=Count("id", filter=Q(kind=EntryKind.PAYMENT)))
            .order_by()
        }
        agents = [
            {
                "user_id": row["assigned_agent_id"],
                "name": row["assigned_agent__full_name"] or row["assigned_agent__email"],
                "email": row["assigned_agent__email"],
                "debts": row["debts"],
                "open_debts": row["open_debts"],
                "outstanding": row["outstanding"] or 0,
                "collected_this_month": collected.get(row["assigned_agent_id"], (0, 0))[0],
                "payments_this_month": collected.get(row["assigned_agent_id"], (0, 0))[1],
            }
            for row in portfolios
        ]
        agents.sort(key=lambda a: (-a["collected_this_month"], -a["outstanding"], a["name"]))
        return {"currency": workspace.currency, "agents": agents[:MAX_AGENTS], "agent_count": len(agents)}

    return _cached("leaderboard", workspace, membership, today, compute)


# --- Client portal --------------------------------------------------------------


def client_portal(*, workspace: Workspace, membership: Membership, client: Client, today: date) -> dict[str, Any]:
    """A client's portfolio by status, and its collections, commission and net
    remittance (collected − commission) this month, last month, to date and per
    month for the last ``PORTAL_MONTHS`` months. Three aggregate queries."""

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        bps = client.commission_rate_bps
        debts = _visible(workspace, membership, client)
        labels = dict(DebtStatus.choices)
        statuses = [
            {
                "status": row["status"],
                "label": labels.get(row["status"], row["status"]),
                "count": row["count"],
                "balance": row["balance"] or 0,
                "placed": row["placed"] or 0,
            }
            for row in debts.values("status")
            .annotate(count=Count("id"), balance=Sum("balance_minor"), placed=Sum("original_amount_minor"))
            .order_by("status")
        ]
        this_start = _month_start(today)
        last_start = _add_months(this_start, -1)
        tomorrow = _midnight(today + timedelta(days=1), tz)
        periods = {
            "this_month": _posted_between(_midnight(this_start, tz), tomorrow),
            "last_month": _posted_between(_midnight(last_start, tz), _midnight(this_start, tz)),
            "to_date": Q(posted_at__lt=tomorrow),
        }
        entries = _entries(workspace, debts)
        aggregates: dict[str, Any] = {}
        for name, period in periods.items():
            aggregates[f"{name}_collected"] = _collected(period)
            aggregates[f"{name}_commission"] = _commission(bps, period)
        sums = entries.aggregate(**aggregates)
        totals = {}
        for name in periods:
            collected, commission = _neg(sums[f"{name}_collected"]), _neg(sums[f"{name}_commission"])
            totals[name] = {"collected": collected, "commission": commission, "net": collected - commission}
        first_month = _add_months(this_start, -(PORTAL_MONTHS - 1))
        monthly_rows = (
            entries.filter(COLLECTION, _posted_between(_midnight(first_month, tz), tomorrow))
            .annotate(month=TruncMonth("posted_at", tzinfo=tz))
            .values("month")
            .annotate(total=Sum("amount_minor"), commission=Sum(entry_commission(bps)))
            .order_by("month")
        )
        by_month = {_as_date(row["month"]): row for row in monthly_rows}
        months = []
        for offset in range(PORTAL_MONTHS):
            month = _add_months(first_month, offset)
            row = by_month.get(month, {})
            collected, commission = _neg(row.get("total")), _neg(row.get("commission"))
            months.append(
                {"month": month, "collected": collected, "commission": commission, "net": collected - commission}
            )
        return {
            "currency": workspace.currency,
            "client": {"id": client.pk, "name": client.name, "reference": client.reference, "commission_rate_bps": bps},
            "statuses": statuses,
            "debts": sum(s["count"] for s in statuses),
            "placed": sum(s["placed"] for s in statuses),
            "outstanding": sum(s["balance"] for s in statuses if s["status"] not in FINISHED),
            "totals": totals,
            "months": months,
            "this_month_label": this_start.strftime("%B %Y"),
            "last_month_label": last_start.strftime("%B %Y"),
        }

    return _cached("portal", workspace, membership, today, compute, extra=f"client{client.pk}")


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def statement_entries(
    *, workspace: Workspace, membership: Membership, client: Client, month: date
) -> QuerySet[LedgerEntry, tuple[Any, ...]]:
    """The collection entries of ``client``'s visible debts posted in ``month``
    (workspace timezone), oldest first, as ``(posted_at, debt reference, kind,
    amount_minor)`` tuples — no debtor names or contact details. Not cached: a
    statement is read from the ledger itself."""
    tz = ZoneInfo(workspace.timezone)
    start = _midnight(_month_start(month), tz)
    end = _midnight(_add_months(_month_start(month), 1), tz)
    return (
        _entries(workspace, _visible(workspace, membership, client, any_currency=True))
        .filter(COLLECTION, _posted_between(start, end))
        .order_by("posted_at", "id")
        .values_list("posted_at", "debt__reference", "kind", "amount_minor", "currency")
    )


def statement_line(entry: tuple[Any, ...], *, bps: int, tz: ZoneInfo) -> list[str]:
    """One CSV line: posting date, debt reference, kind, collected, commission, net
    and the currency they are in (the debt's: a statement can hold several)."""
    posted_at, reference, kind, amount_minor, currency = entry
    collected = -amount_minor
    commission = commission_minor(collected, bps)
    return [
        posted_at.astimezone(tz).date().isoformat(),
        _csv_text(reference),
        kind,
        from_minor(collected, currency),
        from_minor(commission, currency),
        from_minor(collected - commission, currency),
        currency,
    ]


def _csv_text(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
