"""Erasure for inactivity: who is past their period, and erasing them with the same
engine a rights request uses (``erasure.py``), as the ``privacy_requests.inactive_people``
retention store (``retention.py``).

**Who is due** (``people_due``), in one query the purge can walk a batch at a time:

- a debtor of the workspace not yet erased (their data key is not shredded);
- none of whose debts is still being collected: every debt is paid, settled, written
  off, recalled or closed (an open, disputed or on-hold debt still needs the person);
- whose last collection activity — the latest of each debt's placement, change, last
  contact and last payment, and the person's own creation (the same notion as
  ``erasure_rules._Dates.collection_activity``) — is older than the workspace's
  ``COLLECTION_RECORDS`` period;
- not covered by a legal hold (on them, a debt of theirs, the client's portfolio or the
  workspace) and with no open dispute;
- where the jurisdiction profile requires notice (``retention_notice_days``), who was
  told (or could not be told: no contact on file) at least that many days ago, after
  their last activity (``retention_notices.py``): activity after the notice restarts
  the clock.

**A closed workspace** (``Workspace.closed_at``) whose ``purge_after`` has passed: every
debtor not yet erased and not held is due, with no activity or notice condition.

**Erasing** (``people_erase``): per person, a plan (reason "retention purge <run>"),
approved as an operator, executed. The plan carries the run's id, so a worker killed
halfway continues that plan on the next attempt rather than start a second one, and
the count comes out the same; a plan a failed run left unfinished is continued by the
next run too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import (
    CharField,
    Exists,
    F,
    Func,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Greatest

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from debtors.models import Debt, Debtor, DebtStatus, Dispute, DisputeStatus
from debtors.services.holds import debtors_unheld
from kernel.models import SubjectKey
from kernel.retention import PurgeContext
from kernel.tenancy import workspace_context
from privacy_requests.erasure import erasure_approve, erasure_execute, erasure_plan
from privacy_requests.erasure_rules import SUBJECT_TYPE
from privacy_requests.models import ErasurePlan, PlanStatus, RetentionNotice

# Debts nobody collects any more: the person is needed for none of them.
FINAL_STATUSES = (
    DebtStatus.PAID,
    DebtStatus.SETTLED,
    DebtStatus.WRITTEN_OFF,
    DebtStatus.RECALLED,
    DebtStatus.CLOSED,
)


class UuidText(Func):
    """A UUID key as ``str(uuid)`` writes it (how ``SubjectKey.subject_id`` stores a
    person's id): PostgreSQL casts it; SQLite keeps 32 hex digits, so the hyphens are
    put back. Compared as it is stored, the key row is found through its index."""

    template = "CAST(%(expressions)s AS text)"
    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        x = "%(expressions)s"
        parts = " || '-' || ".join(f"substr({x}, {start}, {length})" for start, length in _UUID_GROUPS)
        return self.as_sql(compiler, connection, template=f"({parts})", **extra_context)


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def notice_days(workspace: Workspace) -> int | None:
    """Days of notice before erasure for inactivity the workspace's profile requires
    (None: none)."""
    return profile_for(workspace.jurisdiction).retention_notice_days


def closed_and_expired(ctx: PurgeContext) -> bool:
    """The workspace was closed and its data's time is up (``purge_after`` passed)."""
    workspace = ctx.workspace
    return bool(workspace.closed_at and workspace.purge_after and workspace.purge_after <= ctx.now)


def last_activity(workspace: Workspace) -> Any:
    """The person's last collection activity, as an expression over ``Debtor``: one
    correlated lookup of their debts (by the debtor index), so walking the debtors in
    key order stops at the first batch found instead of grouping every debt."""
    created = F("created_at")
    per_debt = Greatest(
        "created_at",
        "updated_at",
        Coalesce("last_contact_at", "created_at"),
        Coalesce("last_payment_at", "created_at"),
    )
    latest = (
        Debt.objects.for_workspace(workspace)
        .filter(debtor_id=OuterRef("pk"))
        .order_by()
        .values("debtor_id")
        .annotate(last=Max(per_debt))
        .values("last")
    )
    return Greatest(created, Coalesce(Subquery(latest), created))


def _erased(workspace: Workspace) -> Exists:
    return Exists(
        SubjectKey.objects.for_workspace(workspace).filter(
            subject_type=SUBJECT_TYPE, subject_id=UuidText(OuterRef("pk")), shredded_at__isnull=False
        )
    )


def people_unerased(workspace: Workspace) -> QuerySet[Debtor]:
    """The workspace's debtors not yet erased and not held."""
    debtors = Debtor.objects.for_workspace(workspace).filter(~_erased(workspace))
    return debtors_unheld(workspace=workspace, debtors=debtors)


def people_inactive(workspace: Workspace) -> QuerySet[Any]:
    """Debtors not erased, not held, with no debt still collected and no open dispute,
    annotated with ``last_activity``."""
    open_debts = (
        Debt.objects.for_workspace(workspace).filter(debtor_id=OuterRef("pk")).exclude(status__in=FINAL_STATUSES)
    )
    open_disputes = Dispute.objects.for_workspace(workspace).filter(debtor_id=OuterRef("pk"), status=DisputeStatus.OPEN)
    return (
        people_unerased(workspace)
        .filter(~Exists(open_debts), ~Exists(open_disputes))
        .annotate(last_activity=last_activity(workspace))
    )


def notice_given(workspace: Workspace, *, before: Any = None) -> Exists:
    """A notice sent after the person's last activity (and, with ``before``, no later than that)."""
    notices = RetentionNotice.objects.for_workspace(workspace).filter(
        debtor_id=OuterRef("pk"), notified_at__gte=OuterRef("last_activity")
    )
    if before is not None:
        notices = notices.filter(notified_at__lte=before)
    return Exists(notices)


def people_due(ctx: PurgeContext) -> QuerySet[Any]:
    """The people to erase now (module docstring). Reads only."""
    workspace = ctx.workspace
    if closed_and_expired(ctx):
        return people_unerased(workspace)
    due: QuerySet[Any] = people_inactive(workspace).filter(last_activity__lt=ctx.cutoff)
    days = notice_days(workspace)
    if days:
        due = due.filter(notice_given(workspace, before=ctx.now - timedelta(days=days)))
    return due


def people_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    """What a dry run lists: ids and dates, nothing of the person's."""
    if closed_and_expired(ctx):
        return [f"debtor {k}: the workspace was closed and its data's time is up" for k in keys]
    rows = people_inactive(ctx.workspace).filter(pk__in=keys).values_list("pk", "last_activity")
    return [f"debtor {pk}: last collection activity {at:%Y-%m-%d}" for pk, at in rows]


def people_erase(ctx: PurgeContext, keys: list[Any]) -> int:
    """Erase each person of ``keys`` still due (or whose erasure this run began) and
    return how many were erased. Each erasure manages its own transactions; run again
    with the same run, it continues the run's plans and counts the same people."""
    workspace = ctx.workspace
    keys = [str(k) for k in keys]
    with workspace_context(workspace):
        # This run's plans, and any a failed earlier run left unfinished: continued, not redone.
        plans = {
            str(p.debtor_id): p
            for p in ErasurePlan.objects.for_workspace(workspace)
            .filter(debtor_id__in=keys)
            .filter(Q(retention_run=ctx.run_id) | (~Q(retention_run="") & ~Q(status=PlanStatus.DONE)))
            .order_by("created_at")
        }
        due = {str(pk) for pk in people_due(ctx).filter(pk__in=keys).values_list("pk", flat=True)}
    erased = 0
    for key in keys:
        plan = plans.get(key)
        if plan is None and key not in due:
            continue  # activity, a hold or an erasure since the batch was chosen
        with workspace_context(workspace):
            if plan is None:
                debtor = Debtor.objects.for_workspace(workspace).get(pk=key)
                plan = erasure_plan(
                    workspace=workspace, debtor=debtor, reason=ctx.reason, retention_run=ctx.run_id, as_of=ctx.now
                )
            if plan.status == PlanStatus.DRAFT:
                plan = erasure_approve(plan=plan, actor=None, operator=True, reason=ctx.reason)
        erasure_execute(plan=plan)
        erased += 1
    return erased
