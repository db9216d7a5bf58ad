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
* **Caching policy.** Each figure set is cached briefly (``reporting.figure_cache``)
  under a key that holds the membership, its role and client scope, so a member
  never sees figures computed for a wider or narrower scope.

The building blocks (visible debts, what counts as collected, periods) live in
``reporting.queries``; money and rate formatting in ``reporting.formatting``; the
client portal and statements in ``reporting.portal``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Q, Sum, Value, When
from django.db.models.functions import TruncDate

from accounts.models import Client, Membership, Workspace
from accounts.roles import can
from debtors.models import Debt, EntryKind, PromiseStatus, PromiseToPay
from debtors.selectors import debts_visible_to
from reporting.figure_cache import cached, refreshing
from reporting.formatting import rate_bps
from reporting.queries import (
    COLLECTION,
    OPEN,
    add_months,
    collected_sum,
    entries_of,
    midnight,
    month_start,
    negated,
    posted_between,
    visible_debts,
    workspace_today,
)

COLLECTIONS_DAYS = 30
MAX_CLIENTS = 12
MAX_AGENTS = 20
FIGURE_SETS = 7  # what ``warm`` refreshes

# Aging by days past the due date (a debt not yet due is "current", in 0–30).
AGING_BUCKETS: tuple[tuple[str, str, int | None], ...] = (
    ("0-30", "0–30 days", 30),
    ("31-60", "31–60 days", 60),
    ("61-90", "61–90 days", 90),
    ("91-180", "91–180 days", 180),
    ("180+", "Over 180 days", None),
)
NO_DUE_DATE = ("none", "No due date")


def warm(*, workspace: Workspace) -> int:
    """Recompute the whole-workspace figures (the beat task's job), as the owner
    sees them — everyone with ``debts.view_all`` shares that cache entry. Returns
    how many figure sets were refreshed."""
    owner = Membership.objects.for_workspace(workspace).filter(role="owner", client__isnull=True).first()
    if owner is None:
        return 0
    args: dict[str, Any] = {"workspace": workspace, "membership": owner, "today": workspace_today(workspace)}
    with refreshing():
        overview(**args)
        collections_by_day(**args)
        aging_buckets(**args)
        clients_liquidation(**args)
        promise_outcomes(**args)
        agent_leaderboard(**args)
        other_currencies(**args)
    return FIGURE_SETS


def other_currencies(
    *, workspace: Workspace, membership: Membership, today: date, client: Client | None = None
) -> list[dict[str, Any]]:
    """Visible debts in currencies other than the workspace's, which the figures
    leave out: per currency, the number of debts, open debts and what they still
    owe. One aggregate query; usually an empty list."""

    def compute() -> list[dict[str, Any]]:
        rows = (
            visible_debts(workspace, membership, client, any_currency=True)
            .exclude(currency=workspace.currency)
            .values("currency")
            .annotate(debts=Count("id"), outstanding=Sum("balance_minor", filter=OPEN))
            .order_by("currency")
        )
        return [{"currency": r["currency"], "debts": r["debts"], "outstanding": r["outstanding"] or 0} for r in rows]

    extra = f"client{client.pk}" if client is not None else ""
    return cached("other_currencies", workspace, membership, today, compute, extra=extra)


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
        debts = visible_debts(workspace, membership)
        portfolio = debts.aggregate(
            debts=Count("id"),
            open_debts=Count("id", filter=OPEN),
            placed=Sum("original_amount_minor"),
            outstanding=Sum("balance_minor", filter=OPEN),
        )
        this_start = month_start(today)
        last_start = add_months(this_start, -1)
        last_same_day = min(last_start + timedelta(days=today.day), this_start)
        tomorrow = midnight(today + timedelta(days=1), tz)
        this_month = posted_between(midnight(this_start, tz), tomorrow)
        sums = entries_of(workspace, debts).aggregate(
            this_month=collected_sum(this_month),
            last_month=collected_sum(posted_between(midnight(last_start, tz), midnight(this_start, tz))),
            last_month_to_date=collected_sum(posted_between(midnight(last_start, tz), midnight(last_same_day, tz))),
            to_date=collected_sum(Q(posted_at__lt=tomorrow)),
            payments_this_month=Count("id", filter=Q(kind=EntryKind.PAYMENT) & this_month),
        )
        placed = portfolio["placed"] or 0
        collected = negated(sums["to_date"])
        return {
            "currency": workspace.currency,
            "debts": portfolio["debts"],
            "open_debts": portfolio["open_debts"],
            "placed": placed,
            "outstanding": portfolio["outstanding"] or 0,
            "collected_this_month": negated(sums["this_month"]),
            "collected_last_month": negated(sums["last_month"]),
            "collected_last_month_to_date": negated(sums["last_month_to_date"]),
            "collected_to_date": collected,
            "payments_this_month": sums["payments_this_month"],
            "recovery_bps": rate_bps(collected, placed),
            "this_month_label": this_start.strftime("%B %Y"),
            "last_month_label": last_start.strftime("%B %Y"),
            "same_day": today.day,
        }

    return cached("overview", workspace, membership, today, compute)


def collections_by_day(
    *, workspace: Workspace, membership: Membership, today: date, days: int = COLLECTIONS_DAYS
) -> dict[str, Any]:
    """Net collections per day (workspace timezone) over the last ``days`` days,
    today included; days without money are zeros. One GROUP BY query."""

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        first = today - timedelta(days=days - 1)
        rows = (
            entries_of(workspace, visible_debts(workspace, membership))
            .filter(COLLECTION, posted_between(midnight(first, tz), midnight(today + timedelta(days=1), tz)))
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
            series.append({"date": day, "amount": negated(row.get("total")), "payments": row.get("payments", 0)})
        return {"currency": workspace.currency, "days": series, "total": sum(d["amount"] for d in series)}

    return cached("by_day", workspace, membership, today, compute, extra=str(days))


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
            visible_debts(workspace, membership)
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

    return cached("aging", workspace, membership, today, compute)


def clients_liquidation(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Per client: debts, placed, outstanding, collected to date and the
    liquidation rate (collected / placed). Two GROUP BY queries; the largest
    ``MAX_CLIENTS`` portfolios by placed amount are listed."""

    def compute() -> dict[str, Any]:
        debts = visible_debts(workspace, membership)
        placed_rows = (
            debts.values("client_id", "client__name")
            .annotate(
                debts=Count("id"), placed=Sum("original_amount_minor"), outstanding=Sum("balance_minor", filter=OPEN)
            )
            .order_by("-placed", "client__name")
        )
        clients = list(placed_rows)
        collected = {
            row["debt__client_id"]: negated(row["total"])
            for row in entries_of(workspace, debts)
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

    return cached("clients", workspace, membership, today, compute)


def promise_outcomes(*, workspace: Workspace, membership: Membership, today: date) -> dict[str, Any]:
    """Promises to pay made on visible debts, by outcome, and the keep rate
    (kept / (kept + broken)). One aggregate query."""

    def compute() -> dict[str, Any]:
        counts = (
            PromiseToPay.objects.for_workspace(workspace)
            .filter(debt__in=visible_debts(workspace, membership).values("pk"))
            .aggregate(
                kept=Count("id", filter=Q(status=PromiseStatus.KEPT)),
                broken=Count("id", filter=Q(status=PromiseStatus.BROKEN)),
                pending=Count("id", filter=Q(status=PromiseStatus.PENDING)),
            )
        )
        return {**counts, "keep_rate_bps": rate_bps(counts["kept"], counts["kept"] + counts["broken"])}

    return cached("promises", workspace, membership, today, compute)


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
        debts = visible_debts(workspace, membership).filter(assigned_agent__isnull=False)
        portfolios = (
            debts.values("assigned_agent_id", "assigned_agent__email", "assigned_agent__full_name")
            .annotate(
                debts=Count("id"), open_debts=Count("id", filter=OPEN), outstanding=Sum("balance_minor", filter=OPEN)
            )
            .order_by()
        )
        this_month = posted_between(midnight(month_start(today), tz), midnight(today + timedelta(days=1), tz))
        collected = {
            row["debt__assigned_agent_id"]: (negated(row["total"]), row["payments"])
            for row in entries_of(workspace, debts)
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

    return cached("leaderboard", workspace, membership, today, compute)
