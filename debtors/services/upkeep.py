"""The hourly collections upkeep of one workspace."""

from __future__ import annotations

from accounts.models import Workspace
from debtors.services.offers import offers_expire
from debtors.services.plans import installments_mark_missed
from debtors.services.priority import priorities_refresh_in_batches
from debtors.services.promises import promises_evaluate
from kernel.tenancy import workspace_context


def collections_upkeep_run(*, workspace: Workspace) -> dict[str, int]:
    """Missed installments, promises due, expired offers, then the priority scores
    (which those change) — each idempotent, each committed on its own, so a failing
    step does not undo the others. Counts of what changed."""
    with workspace_context(workspace):
        missed = installments_mark_missed(workspace_id=workspace.pk)
    with workspace_context(workspace):
        promises = promises_evaluate(workspace_id=workspace.pk)
    with workspace_context(workspace):
        expired = offers_expire(workspace_id=workspace.pk)
    rescored = priorities_refresh_in_batches(workspace=workspace)
    return {
        "installments_missed": missed,
        **{f"promises_{k}": v for k, v in promises.items()},
        "offers_expired": expired,
        "priorities_changed": rescored,
    }
