"""Reads for rights requests: the privacy desk, the debt page's privacy section,
the REST API and the figures. Every function takes the workspace (and, for a
client-scoped API key, its client) and never fails open; a request of another
workspace is a 404 exactly like a missing one."""

from __future__ import annotations

import statistics
import zoneinfo
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThan, LessThanOrEqual
from django.http import Http404

from accounts.jurisdictions import profile_for
from accounts.models import Client, Membership, Workspace
from accounts.roles import can
from debtors.models import Debt, Debtor
from debtors.selectors import exact_search_filter
from privacy_requests import deadlines
from privacy_requests.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    ErasurePlan,
    FileKind,
    PrivacyContact,
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestFile,
    RequestStatus,
    RequestType,
    SubjectType,
    VerificationCode,
)

DUE_SOON_DAYS = 7
DESK_PAGE_SIZE = 50
FIGURE_MONTHS = 12


def _tz(workspace: Workspace) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(workspace.timezone)


def _end_of_day(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def effective_due() -> Coalesce:
    """The deadline in force, in SQL: the extended one once extended, else the first.
    Used in filters as a lookup (``LessThan(effective_due(), now)``) and in ordering."""
    return Coalesce("extended_due_at", "due_at")


def due_before(moment: datetime) -> LessThan:
    return LessThan(effective_due(), moment)


def due_between(start: datetime, end: datetime) -> Q:
    return Q(GreaterThanOrEqual(effective_due(), start)) & Q(LessThanOrEqual(effective_due(), end))


def days_left(request: PrivacyRequest, *, workspace: Workspace, now: datetime) -> int | None:
    """Whole days to the deadline in force, in the workspace's zone (None while the
    clock waits for verification, and for closed requests: they are answered)."""
    if not request.is_open:
        return None
    return deadlines.days_left(request.effective_due_at, now=now, workspace=workspace)


def urgency(left: int | None) -> str:
    """How the desk highlights a request: ``overdue``, ``soon`` (≤ 7 days) or ``""``."""
    if left is None:
        return ""
    if left < 0:
        return "overdue"
    return "soon" if left <= DUE_SOON_DAYS else ""


@dataclass(frozen=True)
class DeadlineState:
    """What every page shows of a request's deadline."""

    left: int | None  # days left (negative once overdue), None: clock not started or closed
    urgency: str  # overdue | soon | ""

    @property
    def overdue_by(self) -> int:
        return -self.left if self.left is not None and self.left < 0 else 0


def deadline_state(request: PrivacyRequest, *, workspace: Workspace, now: datetime) -> DeadlineState:
    left = days_left(request, workspace=workspace, now=now)
    return DeadlineState(left, urgency(left))


# --- One request ---------------------------------------------------------------------


def request_get(*, workspace: Workspace, request_id: Any) -> PrivacyRequest:
    request = (
        PrivacyRequest.objects.for_workspace(workspace)
        .select_related("debtor", "client", "user", "created_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise Http404("No such request")
    return request


def request_timeline(*, request: PrivacyRequest) -> QuerySet[PrivacyRequestEvent]:
    return (
        PrivacyRequestEvent.objects.for_workspace(request.workspace_id)
        .filter(request=request)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def request_codes(*, request: PrivacyRequest) -> QuerySet[VerificationCode]:
    """The one-time codes sent for this request (only masked addresses are stored)."""
    return VerificationCode.objects.for_workspace(request.workspace_id).filter(request=request).order_by("-created_at")


def request_files(*, request: PrivacyRequest) -> QuerySet[RequestFile]:
    return RequestFile.objects.for_workspace(request.workspace_id).filter(request=request).order_by("-created_at")


def authorisation_file(*, request: PrivacyRequest) -> RequestFile | None:
    """The representative's latest authorisation that is still stored."""
    return request_files(request=request).filter(kind=FileKind.AUTHORISATION, deleted_at__isnull=True).first()


def erasure_plans(*, request: PrivacyRequest) -> QuerySet[ErasurePlan]:
    return (
        ErasurePlan.objects.for_workspace(request.workspace_id)
        .filter(request=request)
        .select_related("created_by", "approved_by")
        .order_by("-created_at")
    )


def erasure_plan_get(*, request: PrivacyRequest, plan_id: Any) -> ErasurePlan:
    plan = erasure_plans(request=request).filter(pk=plan_id).first() if plan_id else None
    if plan is None:
        raise Http404("No such erasure plan")
    return plan


@dataclass(frozen=True)
class VerificationRecord:
    method: str
    verified_at: datetime | None
    verified_by: str
    asked_at: datetime | None


def verification_record(*, request: PrivacyRequest, events: list[PrivacyRequestEvent]) -> VerificationRecord:
    """How, when and by whom identity was confirmed (from the timeline)."""
    by = ""
    for event in reversed(events):
        if event.to_status == RequestStatus.VERIFIED:
            by = event.actor.email if event.actor else (event.actor_label or "system")
            break
    return VerificationRecord(
        method=request.verification_method,
        verified_at=request.verified_at,
        verified_by=by,
        asked_at=request.verification_asked_at,
    )


# Fulfilment by type: the desk's action that answers each kind of request.
FULFILMENT_ACTION = {
    RequestType.ACCESS: "export",
    RequestType.PORTABILITY: "export",
    RequestType.ERASURE: "erasure",
    RequestType.RESTRICTION: "fulfil",
    RequestType.OBJECTION: "fulfil",
    RequestType.WITHDRAWAL: "fulfil",
    RequestType.RECTIFICATION: "rectify",
}


def available_actions(*, request: PrivacyRequest, workspace: Workspace) -> frozenset[str]:
    """What the desk offers on this request now (the services check again):

    - ``verify`` by hand while identity is unconfirmed; ``start`` once verified;
    - ``extend`` once, while open, when the clock runs and the profile allows it;
    - ``close`` (fulfilled, partly, refused, withdrawn — as the status machine allows);
    - ``authorisation`` review while a representative's authorisation waits;
    - the type's fulfilment (``export``, ``erasure``, ``fulfil``, ``rectify``) once
      identity is confirmed, the person is known, and any representative's
      authorisation is approved: nothing of a person is changed or sent before;
    - ``match`` to a debtor while the request is about no one we know (a web request
      that matched no one can otherwise never be answered).
    """
    if not request.is_open:
        return frozenset()
    actions = {"close"}
    if request.debtor_id is None and request.user_id is None:
        actions.add("match")
    if request.status in (RequestStatus.RECEIVED, RequestStatus.AWAITING_VERIFICATION):
        actions.add("verify")
    if request.status == RequestStatus.VERIFIED:
        actions.add("start")
    if (
        request.extended_due_at is None
        and request.clock_started_at is not None
        and deadlines.extension_period(profile_for(workspace.jurisdiction)) is not None
    ):
        actions.add("extend")
    if request.authorisation_status == "pending":
        actions.add("authorisation")
    ready = (
        request.status in (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS)
        and request.debtor_id is not None
        and request.authorisation_status not in ("pending", "rejected")
    )
    if ready and request.type in FULFILMENT_ACTION:
        actions.add(FULFILMENT_ACTION[RequestType(request.type)])
    return frozenset(actions)


def privacy_contact_get(*, workspace: Workspace) -> PrivacyContact | None:
    return PrivacyContact.objects.for_workspace(workspace).select_related("contact_user").first()


def may_approve_erasure(*, workspace: Workspace, membership: Membership) -> bool:
    """Managers, admins and owners (privacy.manage), or the workspace's privacy
    contact (an agency member): who the desk offers erasure approval to.
    ``erasure.erasure_approve`` checks it again."""
    if membership.client_id is not None:
        return False
    if can(membership, "privacy.manage"):
        return True
    return PrivacyContact.objects.for_workspace(workspace).filter(contact_user_id=membership.user_id).exists()


MATCH_CANDIDATES = 10


@dataclass(frozen=True)
class MatchCandidate:
    """A debtor an unmatched request may be about, with their debts' references."""

    debtor: Debtor
    debts: list[Debt]


def match_candidates(*, workspace: Workspace, query: str) -> list[MatchCandidate]:
    """Debtors found exactly by ``query`` (email, phone, national id, name or
    external reference through ``debtors.selectors.exact_search_filter``, or the
    reference of one of their debts), at most ``MATCH_CANDIDATES``. Nothing for an
    empty query: there is no browsing of debtors from here."""
    query = query.strip()
    if not query:
        return []
    ids = set(
        Debtor.objects.for_workspace(workspace)
        .filter(exact_search_filter(workspace, query))
        .values_list("id", flat=True)[:MATCH_CANDIDATES]
    )
    ids |= set(
        Debt.objects.for_workspace(workspace)
        .filter(reference=query[:64])
        .values_list("debtor_id", flat=True)[:MATCH_CANDIDATES]
    )
    debtors = list(Debtor.objects.for_workspace(workspace).filter(pk__in=ids).order_by("created_at", "id"))
    debts: dict[Any, list[Debt]] = {}
    for debt in (
        Debt.objects.for_workspace(workspace)
        .filter(debtor_id__in=[d.pk for d in debtors])
        .select_related("client")
        .order_by("created_at", "id")
    ):
        debts.setdefault(debt.debtor_id, []).append(debt)
    return [MatchCandidate(d, debts.get(d.pk, [])) for d in debtors[:MATCH_CANDIDATES]]


def open_erasure_requests(*, workspace: Workspace, debtor_id: Any) -> list[PrivacyRequest]:
    """The debtor's open erasure requests, the oldest first (an operator's erasure
    answers the first one that is verified; see ``erase_subject``)."""
    return list(
        PrivacyRequest.objects.for_workspace(workspace)
        .filter(debtor_id=debtor_id, type=RequestType.ERASURE, status__in=OPEN_STATUSES)
        .order_by("received_at", "id")
    )


# --- The debt page ---------------------------------------------------------------------


def requests_for_debtor(*, workspace: Workspace, debtor_id: Any, limit: int = 20) -> list[PrivacyRequest]:
    return list(
        PrivacyRequest.objects.for_workspace(workspace)
        .filter(debtor_id=debtor_id)
        .order_by("-received_at", "-id")[:limit]
    )


# --- The desk's queue -------------------------------------------------------------------


@dataclass(frozen=True)
class DeskFilters:
    type: str = ""
    status: str = "open"  # open | closed | all | one status
    channel: str = ""
    due: str = ""  # "" | overdue | soon
    reference: str = ""


def normalise_reference(text: str) -> str:
    """``pr-7k2m9q``, ``7K2M9Q`` and ``PR-7K2M9Q`` all name the same request."""
    ref = text.strip().upper().replace(" ", "")
    if ref and not ref.startswith("PR-"):
        ref = "PR-" + ref.removeprefix("PR")
    return ref


def desk_requests(*, workspace: Workspace, filters: DeskFilters, now: datetime) -> QuerySet[PrivacyRequest]:
    """The desk's requests, the most urgent first: by the deadline in force, the
    ones whose clock has not started last."""
    qs = PrivacyRequest.objects.for_workspace(workspace)
    if filters.reference:
        qs = qs.filter(reference=normalise_reference(filters.reference))
    if filters.type:
        qs = qs.filter(type=filters.type)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif filters.status == "closed":
        qs = qs.filter(status__in=CLOSED_STATUSES)
    elif filters.status in RequestStatus.values:
        qs = qs.filter(status=filters.status)
    if filters.due == "overdue":
        qs = qs.filter(due_before(now), status__in=OPEN_STATUSES)
    elif filters.due == "soon":
        horizon = _end_of_day(now.astimezone(_tz(workspace)).date() + timedelta(days=DUE_SOON_DAYS), _tz(workspace))
        qs = qs.filter(due_between(now, horizon), status__in=OPEN_STATUSES)
    return qs.select_related("debtor").order_by(effective_due().asc(nulls_last=True), "received_at", "id")


def desk_page(
    *, workspace: Workspace, filters: DeskFilters, now: datetime, page: int
) -> tuple[list[PrivacyRequest], bool]:
    """One page of the queue and whether there is another; no COUNT(*)."""
    start = max(page - 1, 0) * DESK_PAGE_SIZE
    rows = list(desk_requests(workspace=workspace, filters=filters, now=now)[start : start + DESK_PAGE_SIZE + 1])
    return rows[:DESK_PAGE_SIZE], len(rows) > DESK_PAGE_SIZE


def desk_counts(*, workspace: Workspace, now: datetime) -> dict[str, int]:
    """Open, overdue and due-soon requests, for the desk's heading."""
    open_qs = PrivacyRequest.objects.for_workspace(workspace).filter(status__in=OPEN_STATUSES)
    horizon = _end_of_day(now.astimezone(_tz(workspace)).date() + timedelta(days=DUE_SOON_DAYS), _tz(workspace))
    dues: list[datetime | None] = list(open_qs.values_list(effective_due(), flat=True))
    return {
        "open": len(dues),
        "overdue": sum(1 for d in dues if d is not None and d < now),
        "soon": sum(1 for d in dues if d is not None and now <= d <= horizon),
    }


# --- The REST API -----------------------------------------------------------------------


def requests_for_api(
    *, workspace: Workspace, client_scope: Client | None = None, type: str = "", status: str = ""
) -> QuerySet[PrivacyRequest]:
    """Requests about debtors; a client-scoped key sees only those about debtors
    with a debt its client placed."""
    qs = PrivacyRequest.objects.for_workspace(workspace).filter(subject_type=SubjectType.DEBTOR)
    if client_scope is not None:
        debtors = Debt.objects.for_workspace(workspace).filter(client=client_scope).values("debtor_id")
        qs = qs.filter(debtor_id__in=debtors)
    if type:
        qs = qs.filter(type=type)
    if status:
        qs = qs.filter(status=status)
    return qs


def request_get_for_api(*, workspace: Workspace, request_id: Any, client_scope: Client | None) -> PrivacyRequest:
    request = requests_for_api(workspace=workspace, client_scope=client_scope).filter(pk=request_id).first()
    if request is None:
        raise Http404("No such request")
    return request


# --- Figures ---------------------------------------------------------------------------


def _months_back(today: date, count: int) -> list[date]:
    """The first day of this month and the ``count - 1`` months before it, oldest first."""
    firsts = []
    year, month = today.year, today.month
    for _ in range(count):
        firsts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


@dataclass(frozen=True)
class DeskFigures:
    months: list[date]
    types: list[str]  # the request types that occur, in RequestType order
    per_month: list[dict[str, int]]  # one Counter per month: type -> requests received
    closed: int
    median_days_to_close: float | None
    on_time: int
    answered_with_deadline: int
    open_overdue: int

    @property
    def on_time_percent(self) -> int | None:
        if not self.answered_with_deadline:
            return None
        return round(100 * self.on_time / self.answered_with_deadline)


def desk_figures(*, workspace: Workspace, now: datetime) -> DeskFigures:
    """Requests received per type and month (the last 12 months, in the workspace's
    zone), and of those closed in that time: the median days from receipt to the
    answer and the share answered by the deadline in force."""
    tz = _tz(workspace)
    months = _months_back(now.astimezone(tz).date(), FIGURE_MONTHS)
    start = datetime.combine(months[0], time(0), tzinfo=tz)
    base = PrivacyRequest.objects.for_workspace(workspace)
    received = base.filter(received_at__gte=start).values_list("type", "received_at")
    counters: dict[date, Counter[str]] = {m: Counter() for m in months}
    for kind, at in received:
        local = at.astimezone(tz).date().replace(day=1)
        if local in counters:
            counters[local][kind] += 1
    seen = {k for c in counters.values() for k in c}
    closed_rows: list[tuple[datetime, datetime, datetime | None]] = list(
        base.filter(closed_at__gte=start, status__in=CLOSED_STATUSES).values_list(
            "received_at", "closed_at", effective_due()
        )
    )
    durations = [(closed - got).total_seconds() / 86400 for got, closed, _ in closed_rows]
    with_deadline = [(closed, due) for _, closed, due in closed_rows if due is not None]
    overdue = base.filter(due_before(now), status__in=OPEN_STATUSES).count()
    return DeskFigures(
        months=months,
        types=[t for t in RequestType.values if t in seen],
        per_month=[dict(counters[m]) for m in months],
        closed=len(closed_rows),
        median_days_to_close=statistics.median(durations) if durations else None,
        on_time=sum(1 for closed, due in with_deadline if closed <= due),
        answered_with_deadline=len(with_deadline),
        open_overdue=overdue,
    )
