"""What the retention pages read: the schedule (every category, its period and who
set it, what falls due), legal holds with what they cover, and purge receipts.
Nothing here writes."""

from __future__ import annotations

import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Workspace
from debtors.models import Debt, HoldReason, HoldScope, LegalHold
from kernel.privacy.registry import declarations
from kernel.retention import Action, OutsideStore, PurgeContext, RetentionStore, Scope, outside_stores, stores
from retention.models import PurgeRun, RunStatus
from retention.schedules import Period, periods, rules

logger = logging.getLogger(__name__)

DUE_SOON_DAYS = 30
COUNT_LIMIT = 10_000  # counting stops here ("10,000 or more"): the page must stay quick on big tables
HOLDS_PAGE_SIZE = 50
RUNS_PAGE_SIZE = 30
REVIEW_SOON_DAYS = 14
# A dry run is never resumed; one still "running" after this long died with its worker.
STALE_DRY_RUN = timedelta(hours=1)


def workspace_today(workspace: Workspace, now: datetime) -> date:
    """Today in the workspace's time zone (review dates are the workspace's days)."""
    return now.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).date()


def category_label(name: str) -> str:
    """``COLLECTION_RECORDS`` → "Collection records"."""
    return name.replace("_", " ").capitalize()


def days_in_words(days: int) -> str:
    """365 → "1 year", 1095 → "3 years", 90 → "90 days", 400 → "400 days (about 1 year)"."""
    if days <= 0:
        return "0 days"
    years, rest = divmod(days, 365)
    if years and rest == 0:
        return f"{years} year{'s' if years != 1 else ''}"
    if days < 365:
        return f"{days} day{'s' if days != 1 else ''}"
    approx = round(days / 365)
    return f"{days} days (about {approx} year{'s' if approx != 1 else ''})"


# --- The schedule -----------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A count of records, capped at ``COUNT_LIMIT``; ``error`` when a store failed."""

    count: int = 0
    capped: bool = False
    error: str = ""

    def __add__(self, other: Due) -> Due:
        return Due(self.count + other.count, self.capped or other.capped, self.error or other.error)

    def __str__(self) -> str:
        if self.error:
            return "could not count"
        return f"{self.count:,}" + ("+" if self.capped else "")


@dataclass(frozen=True)
class StoreRow:
    store: RetentionStore
    action: str  # the action's label
    trigger: str
    due_now: Due
    due_soon: Due  # due within DUE_SOON_DAYS, including those due now

    @property
    def whole_installation(self) -> bool:
        return self.store.scope == Scope.GLOBAL


@dataclass(frozen=True)
class ScheduleRow:
    category: str
    label: str
    period: Period
    trigger: str
    fields: list[tuple[str, list[str]]]  # (model, field names) from the registry
    stores: list[StoreRow]
    outside: list[OutsideStore]
    actions: list[str] = field(default_factory=list)
    due_now: Due = Due()
    due_soon: Due = Due()

    @property
    def covers(self) -> list[str]:
        """What holds this category, in words: its stores, then what goes by itself."""
        return [r.store.label for r in self.stores] + [o.label for o in self.outside]

    @property
    def workspace_acts(self) -> bool:
        """Whether this workspace's own period changes anything (a store of its own
        is purged with it; backups and installation-wide logs are not)."""
        return any(not r.whole_installation for r in self.stores)

    @property
    def period_words(self) -> str:
        return days_in_words(self.period.days)

    @property
    def set_by_label(self) -> str:
        return {
            "workspace": "this workspace",
            "profile": "the jurisdiction profile",
            "registry": "CollectPro's default",
        }[self.period.set_by]


def _count(found: Any) -> int:
    if isinstance(found, QuerySet):
        return len(found.order_by().values_list("pk", flat=True)[: COUNT_LIMIT + 1])
    return len(list(found))


def _due(store: RetentionStore, ctx: PurgeContext) -> Due:
    try:
        n = _count(store.due(ctx))
    except Exception as exc:  # one broken store must not take the page down; it shows
        logger.exception("retention store %s could not count what is due", store.name)
        return Due(error=f"{type(exc).__name__}")
    return Due(min(n, COUNT_LIMIT), n > COUNT_LIMIT)


def _registry_fields() -> dict[str, list[tuple[str, list[str]]]]:
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for decl in declarations():
        model = str(decl.model._meta.verbose_name).capitalize()
        for name, pd in decl.fields.items():
            if pd.retention.name:
                found[pd.retention.name][model].append(name)
    return {cat: sorted((m, sorted(f)) for m, f in models.items()) for cat, models in found.items()}


def schedule(*, workspace: Workspace, now: datetime) -> list[ScheduleRow]:
    """Every retention category in ``workspace``: what it covers (the registry's
    fields, the stores that purge it, what goes by itself), when its period starts,
    how long it is and who said so, what is done at the end, and how many records
    are due now and within the next 30 days. Installation-wide stores (sessions,
    sign-in logs) are listed without counts: they are not this workspace's alone."""
    by_category = periods(workspace=workspace)
    fields = _registry_fields()
    outside: dict[str, list[OutsideStore]] = defaultdict(list)
    for o in outside_stores():
        outside[o.rule.name].append(o)
    grouped: dict[str, list[RetentionStore]] = defaultdict(list)
    for s in stores():
        grouped[s.category].append(s)
    rows = []
    for name, rule in rules().items():
        period = by_category[name]
        store_rows = []
        for s in sorted(grouped.get(name, []), key=lambda s: (s.scope != Scope.WORKSPACE, s.label)):
            if s.scope == Scope.WORKSPACE:
                ctx = PurgeContext(workspace=workspace, now=now, days=period.days, dry_run=True)
                now_due, soon_due = _due(s, ctx), _due(s, ctx.shifted(DUE_SOON_DAYS))
            else:
                now_due = soon_due = Due()
            store_rows.append(StoreRow(s, Action(s.action).label, s.when, now_due, soon_due))
        local = [r for r in store_rows if not r.whole_installation]
        rows.append(
            ScheduleRow(
                category=name,
                label=category_label(name),
                period=period,
                trigger=rule.trigger,
                fields=fields.get(name, []),
                stores=store_rows,
                outside=outside.get(name, []),
                actions=sorted({r.action for r in store_rows}),
                due_now=sum((r.due_now for r in local), Due()),
                due_soon=sum((r.due_soon for r in local), Due()),
            )
        )
    return rows


def purge_running(*, workspace: Workspace, now: datetime) -> PurgeRun | None:
    """The workspace's run in progress (a purge left unfinished counts: the next run
    continues it); a dry run abandoned by a dead worker does not block."""
    return (
        PurgeRun.objects.for_workspace(workspace)
        .filter(status=RunStatus.RUNNING)
        .filter(Q(dry_run=False) | Q(started_at__gte=now - STALE_DRY_RUN))
        .order_by("-started_at")
        .first()
    )


# --- Legal holds --------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldFilters:
    status: str = "active"  # active | lifted | all
    scope: str = ""
    reason: str = ""
    review: str = ""  # overdue | soon
    client_id: Any = None


@dataclass(frozen=True)
class HoldRow:
    hold: LegalHold
    debt: Debt | None  # the held debt, or for a debtor hold one of the person's debts (a link to reveal them)
    other_debts: int  # a debtor hold: how many more debts the person has
    review_state: str  # overdue | soon | ok | lifted

    @property
    def covers(self) -> str:
        """What the hold covers, without the debtor's name (personal data)."""
        h = self.hold
        if h.scope == HoldScope.WORKSPACE:
            return "The whole workspace"
        if h.scope == HoldScope.PORTFOLIO:
            return f"Portfolio of {h.client.name}" if h.client else "A client's portfolio"
        if self.debt is None:
            return "A debtor with no debts left"
        ref = f"{self.debt.reference} ({self.debt.client.name})"
        if h.scope == HoldScope.DEBT:
            return f"Debt {ref}"
        more = f" and {self.other_debts} more debt{'s' if self.other_debts != 1 else ''}" if self.other_debts else ""
        return f"The debtor of {ref}{more}"


def legal_holds(*, workspace: Workspace, filters: HoldFilters, today: date) -> QuerySet[LegalHold]:
    qs = LegalHold.objects.for_workspace(workspace).select_related("client", "debt__client", "placed_by", "lifted_by")
    if filters.status == "active":
        qs = qs.filter(lifted_at__isnull=True)
    elif filters.status == "lifted":
        qs = qs.filter(lifted_at__isnull=False)
    if filters.scope in HoldScope.values:
        qs = qs.filter(scope=filters.scope)
    if filters.reason in HoldReason.values:
        qs = qs.filter(reason=filters.reason)
    if filters.review == "overdue":
        qs = qs.filter(lifted_at__isnull=True, review_on__lt=today)
    elif filters.review == "soon":
        qs = qs.filter(lifted_at__isnull=True, review_on__gte=today, review_on__lte=today + timedelta(REVIEW_SOON_DAYS))
    if filters.client_id:
        held_debts = Debt.objects.for_workspace(workspace).filter(client_id=filters.client_id)
        qs = qs.filter(
            Q(client_id=filters.client_id)
            | Q(debt__client_id=filters.client_id)
            | Q(debtor_id__in=held_debts.values("debtor_id"))
        )
    # Overdue reviews first among active holds, then the newest.
    return (
        qs.order_by("lifted_at", "review_on", "-placed_at") if filters.status == "active" else qs.order_by("-placed_at")
    )


def _review_state(hold: LegalHold, today: date) -> str:
    if hold.lifted_at is not None:
        return "lifted"
    if hold.review_on < today:
        return "overdue"
    return "soon" if hold.review_on <= today + timedelta(REVIEW_SOON_DAYS) else "ok"


def hold_rows(*, workspace: Workspace, holds: list[LegalHold], today: date) -> list[HoldRow]:
    """Rows for the list, with one query for the debts of every debtor hold."""
    debtor_ids = {h.debtor_id for h in holds if h.scope == HoldScope.DEBTOR}
    debts_of: dict[Any, list[Debt]] = defaultdict(list)
    if debtor_ids:
        for d in (
            Debt.objects.for_workspace(workspace)
            .filter(debtor_id__in=debtor_ids)
            .select_related("client")
            .order_by("created_at", "pk")
        ):
            debts_of[d.debtor_id].append(d)
    rows = []
    for h in holds:
        if h.scope == HoldScope.DEBTOR:
            theirs = debts_of.get(h.debtor_id, [])
            rows.append(HoldRow(h, theirs[0] if theirs else None, max(len(theirs) - 1, 0), _review_state(h, today)))
        else:
            rows.append(HoldRow(h, h.debt, 0, _review_state(h, today)))
    return rows


def holds_page(*, workspace: Workspace, filters: HoldFilters, page: int, now: datetime) -> tuple[list[HoldRow], bool]:
    """One page of holds and whether there is another (no COUNT(*))."""
    today = workspace_today(workspace, now)
    start = max(page - 1, 0) * HOLDS_PAGE_SIZE
    found = list(legal_holds(workspace=workspace, filters=filters, today=today)[start : start + HOLDS_PAGE_SIZE + 1])
    return hold_rows(workspace=workspace, holds=found[:HOLDS_PAGE_SIZE], today=today), len(found) > HOLDS_PAGE_SIZE


def hold_counts(*, workspace: Workspace, now: datetime) -> dict[str, int]:
    """Active holds and those whose review is overdue (for the page's heading)."""
    today = workspace_today(workspace, now)
    reviews = list(
        LegalHold.objects.for_workspace(workspace).filter(lifted_at__isnull=True).values_list("review_on", flat=True)
    )
    return {"active": len(reviews), "overdue": sum(1 for r in reviews if r < today)}


def legal_hold_get(*, workspace: Workspace, hold_id: Any) -> LegalHold:
    """A hold of this workspace; 404 whether it is missing or someone else's."""
    hold = LegalHold.objects.for_workspace(workspace).select_related("client", "debt").filter(pk=hold_id).first()
    if hold is None:
        raise Http404("No such legal hold")
    return hold


def holds_covering_debt(*, workspace: Workspace, debt: Debt) -> list[LegalHold]:
    """The active holds that cover ``debt`` (any scope), the oldest first."""
    return sorted(
        LegalHold.objects.for_workspace(workspace)
        .filter(lifted_at__isnull=True)
        .filter(
            Q(scope=HoldScope.WORKSPACE)
            | Q(scope=HoldScope.DEBT, debt_id=debt.pk)
            | Q(scope=HoldScope.DEBTOR, debtor_id=debt.debtor_id)
            | Q(scope=HoldScope.PORTFOLIO, client_id=debt.client_id)
        )
        .select_related("client", "placed_by"),
        key=lambda h: h.placed_at,
    )


# --- Purge runs -----------------------------------------------------------------------------


def runs_page(*, workspace: Workspace, page: int) -> tuple[list[PurgeRun], bool]:
    start = max(page - 1, 0) * RUNS_PAGE_SIZE
    found = list(
        PurgeRun.objects.for_workspace(workspace)
        .select_related("started_by")
        .order_by("-started_at")[start : start + RUNS_PAGE_SIZE + 1]
    )
    return found[:RUNS_PAGE_SIZE], len(found) > RUNS_PAGE_SIZE


def runs_latest(*, workspace: Workspace, limit: int = 5) -> list[PurgeRun]:
    return list(PurgeRun.objects.for_workspace(workspace).select_related("started_by").order_by("-started_at")[:limit])


def purge_run_get(*, workspace: Workspace, run_id: Any) -> PurgeRun:
    """A receipt of this workspace; 404 whether it is missing or someone else's
    (the installation's own runs belong to no workspace and are never shown)."""
    run = PurgeRun.objects.for_workspace(workspace).select_related("started_by").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such purge run")
    return run


@dataclass(frozen=True)
class RunStoreRow:
    name: str
    label: str
    category: str
    action: str
    days: int | None
    cutoff: str
    count: int
    done: bool
    listing: list[str]
    error: str


def run_store_rows(run: PurgeRun) -> list[RunStoreRow]:
    """Per store: how far the run got, how many it acted on, what a dry run listed."""
    errors = {e.get("store", ""): e.get("error", "") for e in run.errors if isinstance(e, dict)}
    rows = []
    for name, state in sorted(run.progress.items(), key=lambda kv: (str(kv[1].get("category", "")), kv[0])):
        action = str(state.get("action", ""))
        rows.append(
            RunStoreRow(
                name=name,
                label=str(state.get("label") or name),
                category=str(state.get("category", "")),
                action=Action(action).label if action in Action.values else action,
                days=state.get("days"),
                cutoff=str(state.get("cutoff", ""))[:10],
                count=int(state.get("count", 0)),
                done=bool(state.get("done")),
                listing=[str(line) for line in state.get("listing", [])],
                error=errors.get(name, ""),
            )
        )
    return rows


def run_counts(run: PurgeRun) -> list[tuple[str, str, int]]:
    """(category, action label, count) for the receipt's summary."""
    return [
        (category_label(category), Action(action).label if action in Action.values else action, int(n))
        for category, per_action in sorted(run.counts.items())
        for action, n in sorted(per_action.items())
    ]
