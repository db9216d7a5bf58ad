"""The purge: one service behind the nightly job, the command and the schedule page.

``purge_start`` records a run (its clock, ``as_of``, is fixed then: a resumed run
counts periods from the same moment); ``purge_execute`` walks the registered stores
(``kernel.retention``) in order and, for each, the records past their period a batch
at a time. For a store whose ``apply`` is atomic, a batch's work, its count and the
store's cursor commit in one short transaction: a worker killed at any point leaves
either the whole batch done and counted or nothing, and running the same run again
continues from the cursor. Stores that manage their own transactions (erasing a
person takes several) record the batch as *pending* first and are re-applied after a
crash, which they tolerate (idempotent per run).

A dry run walks the same records and lists them without calling ``apply``.
Nothing here knows what a store holds; holds, notices and the books are the stores'
business (they leave out what a hold covers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.services.holds import legal_hold_sync, workspace_held
from kernel.retention import PurgeContext, RetentionStore, Scope, period_days, stores
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope, no_workspace
from retention.models import PurgeRun, RunStatus, RunTrigger

logger = logging.getLogger(__name__)

LISTING_LIMIT = 500  # lines a dry run keeps per store (the count is always complete)
ProgressCallback = Callable[[str, int], None]  # (store name, records acted on in this batch)
RUN_LOCK_NAMESPACE = 0x50524731  # "PRG1": pg_try_advisory_lock(namespace, hashtext(run id))
OTHER_SCOPE = "other_scope"  # the code of the error for a category only the other scope has


@contextmanager
def _scope(workspace: Workspace | None) -> Iterator[None]:
    """One transaction in the run's tenancy: the workspace's, or none (global stores)."""
    if workspace is None:
        with no_workspace(), db_scope():
            yield
    else:
        with workspace_context(workspace):
            yield


def _stores_for(run: PurgeRun) -> list[RetentionStore]:
    scope = Scope.GLOBAL if run.workspace_id is None else Scope.WORKSPACE
    return stores(scope=scope, category=run.category or None)


def purge_start(
    *,
    workspace: Workspace | None,
    dry_run: bool = False,
    category: str = "",
    trigger: str = RunTrigger.NIGHTLY,
    actor: Actor = None,
    now: Any = None,
) -> PurgeRun:
    """Record a new run (nothing is purged yet). ``workspace`` None: the installation's
    global stores. ``category``: a category (``SECURITY_LOGS``) or a store name."""
    category = (category or "").strip()
    scope = Scope.GLOBAL if workspace is None else Scope.WORKSPACE
    if category and not stores(category=category):
        names = sorted({s.category for s in stores()} | {s.name for s in stores()})
        message = f"No category or store called {category!r}. Known: {', '.join(names)}."
        raise ValidationError({"category": ValidationError(message, code="unknown")})
    if category and not stores(scope=scope, category=category):
        where = "the installation's" if workspace is None else "a workspace's"
        message = f"{category!r} is not one of {where} stores."
        raise ValidationError({"category": ValidationError(message, code=OTHER_SCOPE)})
    with _scope(workspace):
        run = PurgeRun(
            workspace=workspace,
            trigger=trigger,
            dry_run=dry_run,
            category=category,
            as_of=now or timezone.now(),
            started_by=actor_user(actor),
        )
        run.save(force_insert=True)
        audit_record(
            action=actions.RETENTION_PURGE_STARTED,
            workspace=workspace,
            obj=run,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"dry_run": dry_run, "category": category, "trigger": str(trigger)},
        )
    return run


def purge_unfinished(*, workspace: Workspace | None) -> PurgeRun | None:
    """The run a killed worker left behind (not a dry run), to be continued."""
    with _scope(workspace):
        return (
            PurgeRun.unscoped.filter(workspace=workspace, status=RunStatus.RUNNING, dry_run=False)
            .order_by("started_at")
            .first()
        )


def _load(run_id: Any, workspace: Workspace | None, *, lock: bool = False) -> PurgeRun:
    qs = PurgeRun.unscoped.filter(workspace=workspace)
    if lock:
        qs = qs.select_for_update()
    return qs.get(pk=run_id)


def _batch_size(store: RetentionStore) -> int:
    """The store's batch, capped by ``RETENTION_MAX_BATCH`` (tests make runs long enough
    to be interrupted)."""
    cap = int(getattr(settings, "RETENTION_MAX_BATCH", 0) or 0)
    return min(store.batch_size, cap) if cap > 0 else store.batch_size


def _next_keys(store: RetentionStore, ctx: PurgeContext, cursor: Any, *, drain: bool = False) -> list[Any]:
    """The next batch past ``cursor``, in key order. List stores give string keys.
    ``drain``: any due records (the store's ``apply`` removes what it acts on)."""
    size = _batch_size(store)
    found = store.due(ctx)
    if drain and isinstance(found, QuerySet):
        return sorted(found.order_by().values_list("pk", flat=True)[:size])
    if isinstance(found, QuerySet):
        qs = found.order_by("pk")
        if cursor is not None:
            qs = qs.filter(pk__gt=cursor)
        return list(qs.values_list("pk", flat=True)[:size])
    keys = [str(k) for k in found if cursor is None or str(k) > str(cursor)]
    return sorted(keys)[:size]


def _context(run: PurgeRun, store: RetentionStore, workspace: Workspace | None) -> PurgeContext:
    """Call inside ``_scope``: the workspace's period and holds are read under its
    row-level security (outside it, the application role sees no setting and no hold)."""
    return PurgeContext(
        workspace=workspace,
        now=run.as_of,
        days=period_days(workspace, store.rule),
        dry_run=run.dry_run,
        run_id=str(run.pk),
        reason=f"retention purge {run.pk}",
        # For stores below the holds (the audit trail): a hold on the whole workspace.
        options={"workspace_held": workspace is not None and workspace_held(workspace=workspace)},
    )


def _record(
    run_id: Any, workspace: Workspace | None, store: RetentionStore, ctx: PurgeContext, **change: Any
) -> dict[str, Any]:
    """Update one store's progress on the run (call inside the batch's transaction)."""
    run = _load(run_id, workspace, lock=True)
    state = dict(run.progress.get(store.name) or _fresh_state(store, ctx))
    acted = int(change.pop("acted", 0))
    state["count"] = int(state.get("count", 0)) + acted
    lines = change.pop("listing", None)
    if lines:
        state["listing"] = (list(state.get("listing", [])) + lines)[:LISTING_LIMIT]
    state.update(change)
    run.progress = {**run.progress, store.name: state}
    if acted:
        per_action = dict(run.counts.get(store.category, {}))
        per_action[store.action] = int(per_action.get(store.action, 0)) + acted
        run.counts = {**run.counts, store.category: per_action}
    run.save(update_fields=["progress", "counts"])
    return state


def _fresh_state(store: RetentionStore, ctx: PurgeContext) -> dict[str, Any]:
    return {
        "cursor": None,
        "count": 0,
        "done": False,
        "pending": [],
        "category": store.category,
        "action": store.action,
        "label": store.label,
        "days": ctx.days,
        "cutoff": ctx.cutoff.isoformat(),
    }


def _purge_in_database(
    run: PurgeRun, store: RetentionStore, ctx: PurgeContext, on_progress: ProgressCallback | None
) -> None:
    """A plain delete done by the database a batch at a time: each batch's delete and its
    count commit together; what is gone is no longer due, so a resumed run needs no cursor."""
    assert store.purge_batch is not None
    size = _batch_size(store)
    workspace = run.workspace
    while True:
        with _scope(workspace):
            acted = store.purge_batch(ctx, size)
            _record(run.pk, workspace, store, ctx, acted=acted, done=acted == 0)
        if acted == 0:
            return
        if on_progress:
            on_progress(store.name, acted)


def _purge_store(run: PurgeRun, store: RetentionStore, on_progress: ProgressCallback | None) -> None:
    workspace = run.workspace
    state = run.progress.get(store.name) or {}
    if state.get("done"):
        return
    with _scope(workspace):
        ctx = _context(run, store, workspace)
        if not state:
            state = _record(run.pk, workspace, store, ctx)
    cursor = state.get("cursor")
    pending = [k for k in state.get("pending", [])]
    if pending:  # a non-atomic batch that a crash interrupted: finish it first
        acted = store.apply(ctx, pending)
        with _scope(workspace):
            _record(run.pk, workspace, store, ctx, acted=acted, cursor=str(pending[-1]), pending=[])
        cursor = str(pending[-1])
        if on_progress:
            on_progress(store.name, acted)
    if store.purge_batch is not None and store.atomic and not run.dry_run:
        _purge_in_database(run, store, ctx, on_progress)
        return
    # A draining store's batches take any due records and leave the cursor alone; a
    # batch not all acted on (or seen again) returns to the key order from the start.
    drain = store.drains and store.atomic and not run.dry_run and not state.get("walk")
    seen: set[Any] = set()
    while True:
        with _scope(workspace):
            keys = _next_keys(store, ctx, cursor, drain=drain)
            if not keys:
                _record(run.pk, workspace, store, ctx, done=True)
                return
            last: str | None = str(keys[-1])
            if run.dry_run:
                lines = store.describe(ctx, keys) if store.describe else [str(k) for k in keys]
                _record(run.pk, workspace, store, ctx, acted=len(keys), cursor=last, listing=lines)
                acted = len(keys)
            elif drain:
                batch = set(keys)
                acted = 0 if batch & seen else store.apply(ctx, keys)
                seen = batch
                if acted == len(keys):
                    _record(run.pk, workspace, store, ctx, acted=acted)
                else:
                    drain = False
                    _record(run.pk, workspace, store, ctx, acted=acted, cursor=None, walk=True)
                last = cursor if drain else None  # draining leaves the cursor; the key order starts over
            elif store.atomic:
                acted = store.apply(ctx, keys)
                _record(run.pk, workspace, store, ctx, acted=acted, cursor=last)
            else:
                _record(run.pk, workspace, store, ctx, pending=[str(k) for k in keys])
        if not run.dry_run and not store.atomic:
            acted = store.apply(ctx, keys)
            with _scope(workspace):
                _record(run.pk, workspace, store, ctx, acted=acted, cursor=last, pending=[])
        cursor = last
        if on_progress:
            on_progress(store.name, acted)


@contextmanager
def _sole_executor(run_id: Any) -> Iterator[bool]:
    """Whether this process is the only one executing the run. On PostgreSQL, a session
    advisory lock held for the whole execution (released when the process dies, so a
    killed worker never keeps it): a task the broker delivers again while the first
    still runs (``acks_late`` and the visibility timeout), or the next night's job
    meeting a run still going, leaves the run alone instead of doing batches twice."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [RUN_LOCK_NAMESPACE, str(run_id)])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [RUN_LOCK_NAMESPACE, str(run_id)])


def purge_execute(*, run: PurgeRun, on_progress: ProgressCallback | None = None) -> PurgeRun:
    """Do what is left of ``run`` (all of it, the first time) and close its receipt.
    A store that fails is recorded in ``errors`` and the others still run; the run
    then ends ``failed`` and the next one tries that store again. A run another
    process is executing right now is returned as it is (still running)."""
    workspace = run.workspace
    with _sole_executor(run.pk) as sole:
        with _scope(workspace):
            run = _load(run.pk, workspace)
        if not sole or run.status != RunStatus.RUNNING:
            return run
        if workspace is not None and not run.dry_run:
            with _scope(workspace):
                legal_hold_sync(workspace=workspace)
        errors: list[dict[str, str]] = []
        for store in _stores_for(run):
            try:
                _purge_store(run, store, on_progress)
            except Exception as exc:  # one store's failure must not stop the others
                logger.exception("retention store %s failed in run %s", store.name, run.pk)
                errors.append({"store": store.name, "error": f"{type(exc).__name__}: {exc}"[:500]})
            with _scope(workspace):
                run = _load(run.pk, workspace)
        return _finish(run, workspace, errors)


def _finish(run: PurgeRun, workspace: Workspace | None, errors: list[dict[str, str]]) -> PurgeRun:
    with _scope(workspace):
        run = _load(run.pk, workspace, lock=True)
        run.errors = list(run.errors) + errors
        run.status = RunStatus.FAILED if errors else RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["errors", "status", "finished_at"])
        metadata: dict[str, Any] = {
            "dry_run": run.dry_run,
            "category": run.category,
            "total": run.total,
            "errors": len(run.errors),
        }
        for category, per_action in sorted(run.counts.items()):
            for action, count in sorted(per_action.items()):
                metadata[f"{category}.{action}"] = int(count)
        audit_record(action=actions.RETENTION_PURGE_FINISHED, workspace=workspace, obj=run, metadata=metadata)
    return run


def purge_run(
    *,
    workspace: Workspace | None,
    dry_run: bool = False,
    category: str = "",
    trigger: str = RunTrigger.NIGHTLY,
    actor: Actor = None,
    now: Any = None,
    on_progress: ProgressCallback | None = None,
) -> PurgeRun:
    """Continue the run a crash left unfinished, if any (same clock, same cursor);
    otherwise start one. The nightly job and the command both call this. An unfinished
    run of one category is finished first, and a whole run then follows, so one
    interrupted ``--category`` run never stands in for a night's purge."""
    run = None if dry_run or category else purge_unfinished(workspace=workspace)
    if run is not None and run.category:
        purge_execute(run=run, on_progress=on_progress)
        run = None
    if run is None:
        run = purge_start(
            workspace=workspace, dry_run=dry_run, category=category, trigger=trigger, actor=actor, now=now
        )
    return purge_execute(run=run, on_progress=on_progress)


def purge_estimate(*, workspace: Workspace | None, category: str = "", now: Any = None) -> dict[str, int]:
    """How many records each store would act on now (for a progress bar's total). A
    store that fails here is left out: the run records its error."""
    run = PurgeRun(workspace=workspace, dry_run=True, category=category, as_of=now or timezone.now())
    totals: dict[str, int] = {}
    for store in _stores_for(run):
        try:
            with _scope(workspace):
                found = store.due(_context(run, store, workspace))
                totals[store.name] = found.count() if isinstance(found, QuerySet) else len(list(found))
        except Exception:  # one store's failure must not stop the estimate of the others
            logger.warning("retention store %s failed to estimate", store.name, exc_info=True)
    return totals
