"""Reading the breach register: the register's page and counts, one incident with its
clocks and history, and the countdowns of the open duties (dashboard, reminders).

Every lookup names the workspace; an incident or duty of another workspace is a 404,
exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.models import Workspace
from incidents.clocks import ClockState, clock_state
from incidents.models import Decision, Duty, Incident, IncidentStatus, IncidentUpdate

REGISTER_PAGE_SIZE = 50
# Clock states that still need someone to act, the most urgent first.
ACTIVE_STATES = ("late", "due_soon", "running", "no_deadline")


def incident_get(*, workspace: Workspace, reference: str) -> Incident:
    """The workspace's incident with this reference, or 404."""
    incident = (
        Incident.objects.for_workspace(workspace).filter(reference=reference).select_related("created_by").first()
    )
    if incident is None:
        raise Http404("No such incident")
    return incident


def duty_get(*, incident: Incident, duty_id: uuid.UUID) -> Duty:
    """One duty of this incident, or 404 (a duty of another incident or workspace too)."""
    duty = (
        Duty.objects.for_workspace(incident.workspace_id)
        .filter(pk=duty_id, incident=incident)
        .select_related("incident", "client")
        .first()
    )
    if duty is None:
        raise Http404("No such duty")
    return duty


# --- The register -----------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterFilters:
    status: str = "all"  # all | open | closed | one of IncidentStatus
    late: bool = False  # only incidents with a late duty (open past its deadline, or filed late)
    q: str = ""  # reference or words of the title


def _deadline() -> Coalesce:
    return Coalesce("due_at", "target_at")


def late_duties(*, workspace: Workspace, now: datetime) -> QuerySet[Duty]:
    """Duties past their deadline and not done, or done after it (a reason was given)."""
    return (
        Duty.objects.for_workspace(workspace)
        .exclude(decision=Decision.NOT_REQUIRED)
        .annotate(deadline=_deadline())
        .filter(Q(done_at__isnull=True, deadline__lt=now) | Q(done_at__gt=F("deadline")))
    )


def register_incidents(*, workspace: Workspace, filters: RegisterFilters, now: datetime) -> QuerySet[Incident]:
    qs = Incident.objects.for_workspace(workspace)
    if filters.status == "open":
        qs = qs.exclude(status=IncidentStatus.CLOSED)
    elif filters.status == "closed":
        qs = qs.filter(status=IncidentStatus.CLOSED)
    elif filters.status in IncidentStatus.values:
        qs = qs.filter(status=filters.status)
    if filters.late:
        qs = qs.filter(Exists(late_duties(workspace=workspace, now=now).filter(incident=OuterRef("pk"))))
    q = filters.q.strip()
    if q:
        qs = qs.filter(Q(reference__iexact=q) | Q(reference__icontains=q) | Q(title__icontains=q))
    return qs.order_by("-aware_at", "-reference").prefetch_related("duties")


@dataclass(frozen=True)
class RegisterRow:
    incident: Incident
    clocks: list[ClockState]
    next: ClockState | None  # the most urgent open duty
    late: int  # duties late now or filed late
    done: int  # duties done or decided not required

    @property
    def total(self) -> int:
        return len(self.clocks)


def clocks_for(incident: Incident, now: datetime) -> list[ClockState]:
    """Each duty's clock, in deadline order (the duties must be prefetched or cheap)."""
    duties = sorted(incident.duties.all(), key=lambda d: (d.due_at or d.target_at or d.starts_at, d.code, d.label))
    return [clock_state(duty, now) for duty in duties]


def next_clock(clocks: list[ClockState]) -> ClockState | None:
    """The duty to act on first: the earliest deadline among those still open."""
    active = [c for c in clocks if c.state in ACTIVE_STATES]
    dated = sorted((c for c in active if c.deadline is not None), key=lambda c: c.deadline)  # type: ignore[arg-type,return-value]
    if dated:
        return dated[0]
    return active[0] if active else None


def register_row(incident: Incident, now: datetime) -> RegisterRow:
    clocks = clocks_for(incident, now)
    return RegisterRow(
        incident=incident,
        clocks=clocks,
        next=next_clock(clocks),
        late=sum(1 for c in clocks if c.state == "late" or c.late_filing),
        done=sum(1 for c in clocks if c.state in ("done", "not_required")),
    )


def register_page(
    *, workspace: Workspace, filters: RegisterFilters, now: datetime, page: int
) -> tuple[list[RegisterRow], bool]:
    """One page of the register and whether there is another; no COUNT(*)."""
    start = max(page - 1, 0) * REGISTER_PAGE_SIZE
    found = list(
        register_incidents(workspace=workspace, filters=filters, now=now)[start : start + REGISTER_PAGE_SIZE + 1]
    )
    return [register_row(i, now) for i in found[:REGISTER_PAGE_SIZE]], len(found) > REGISTER_PAGE_SIZE


def register_counts(*, workspace: Workspace, now: datetime) -> dict[str, int]:
    """Open incidents, and those with a late duty, for the register's heading."""
    incidents = Incident.objects.for_workspace(workspace)
    late_ids = late_duties(workspace=workspace, now=now).values("incident_id")
    return {
        "all": incidents.count(),
        "open": incidents.exclude(status=IncidentStatus.CLOSED).count(),
        "late": incidents.filter(pk__in=late_ids).count(),
    }


def incident_history(*, incident: Incident) -> QuerySet[IncidentUpdate]:
    return (
        IncidentUpdate.objects.for_workspace(incident.workspace_id)
        .filter(incident=incident)
        .select_related("author")
        .order_by("at", "id")
    )


def incident_clocks(*, incident: Incident, now: datetime) -> list[ClockState]:
    duties = Duty.objects.for_workspace(incident.workspace_id).filter(incident=incident).select_related("client")
    ordered = sorted(duties, key=lambda d: (d.due_at or d.target_at or d.starts_at, d.code, d.label))
    return [clock_state(duty, now) for duty in ordered]


# --- Open duties (dashboard countdowns, reminders) -------------------------------------------


def open_duties(*, workspace: Workspace) -> QuerySet[Duty]:
    """Duties still owed (not done, not decided "not required") of incidents not closed,
    the nearest deadline first; those without one last."""
    return (
        Duty.objects.for_workspace(workspace)
        .filter(done_at__isnull=True)
        .exclude(decision=Decision.NOT_REQUIRED)
        .exclude(incident__status=IncidentStatus.CLOSED)
        .annotate(deadline=_deadline())
        .select_related("incident", "client")
        .order_by(F("deadline").asc(nulls_last=True), "incident__reference", "code")
    )


def open_duty_clocks(*, workspace: Workspace, now: datetime, limit: int = 10) -> dict[str, Any]:
    """The countdowns of the duties still owed: the ``limit`` most urgent and how many in all."""
    duties = list(open_duties(workspace=workspace)[: limit + 1])
    shown = duties[:limit]
    total = len(duties) if len(duties) <= limit else open_duties(workspace=workspace).count()
    return {"clocks": [clock_state(d, now) for d in shown], "total": total, "more": max(total - len(shown), 0)}
