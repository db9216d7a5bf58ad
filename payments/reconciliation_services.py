"""What staff do on the reconciliation page: run it now, and mark an exception
reviewed. Each writes its audit event (the scheduled run is not audited: nobody
asked for it)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User, Workspace
from audit import actions
from audit.services import audit_record
from payments.models import ReconciliationException, ReconciliationRun
from payments.reconciliation import reconciliation_run


def reconciliation_run_now(*, workspace: Workspace, actor: User) -> ReconciliationRun:
    """Reconcile the workspace at once and record who asked, with what it found.
    The run commits as it goes (it calls the provider between writes), so the
    audit event follows it rather than sharing its transaction; a run that fails
    raises before anything is recorded."""
    run = reconciliation_run(workspace=workspace)
    audit_record(
        action=actions.RECONCILIATION_RUN,
        workspace=workspace,
        obj=run,
        actor_user_id=actor.pk,
        metadata={
            "checked": run.sessions_checked,
            "posted": run.payments_posted,
            "expired": run.links_expired,
            "exceptions": run.exceptions_found,
        },
    )
    return run


def reconciliation_exception_resolve(*, exception: ReconciliationException, actor: User | None = None) -> bool:
    """Mark an exception reviewed. A conditional update, so resolving twice (two
    managers, a double click) sets ``resolved_at`` and writes the audit event once."""
    with transaction.atomic():
        done = (
            ReconciliationException.objects.for_workspace(exception.workspace_id)
            .filter(pk=exception.pk, resolved_at__isnull=True)
            .update(resolved_at=timezone.now())
        )
        if done:
            audit_record(
                action=actions.RECONCILIATION_EXCEPTION_RESOLVED,
                workspace=exception.workspace_id,
                obj=exception,
                actor_user_id=getattr(actor, "pk", None),
                metadata={"kind": exception.kind, "run_id": str(exception.run_id)},
            )
    return bool(done)
