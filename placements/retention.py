"""The placements app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

A placement import keeps two files: the upload (every row in clear text), deleted as
soon as the import ends, and the rejects CSV (rejected rows as uploaded), kept for the
client to correct and send again. Both fall under ``PLACEMENT_FILES``: the rejects
after the import finished, and the upload of an import that never finished (its
worker lost) after it was uploaded. The jobs themselves keep only counts.

Rejected rows were never imported, so no debtor or debt (and no hold on one) covers
them; a hold on the whole workspace keeps everything, these files included.
"""

from __future__ import annotations

from typing import Any

from debtors.services.holds import workspace_held
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, register_store
from placements.imports import (
    PLACEMENT_FILES,
    placement_rejects_delete,
    placement_rejects_due,
    placement_uploads_due,
    placement_uploads_expire,
)
from placements.models import PlacementImport


def _rejects_due(ctx: PurgeContext) -> Any:
    if workspace_held(workspace=ctx.workspace):
        return PlacementImport.objects.none()
    return placement_rejects_due(workspace=ctx.workspace, cutoff=ctx.cutoff)


def _uploads_due(ctx: PurgeContext) -> Any:
    if workspace_held(workspace=ctx.workspace):
        return PlacementImport.objects.none()
    return placement_uploads_due(workspace=ctx.workspace, cutoff=ctx.cutoff)


def _describe(field: str, what: str) -> Any:
    def describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
        rows = PlacementImport.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
        return [f"{what} of import {pk}, {when:%Y-%m-%d}" for pk, when in rows.values_list("pk", field)]

    return describe


register_store(
    RetentionStore(
        name="placements.rejects",
        rule=PLACEMENT_FILES,
        label="Rejected rows of placement imports",
        covers="the rejects CSV of an import: rejected rows as uploaded (names, contacts, amounts) and why",
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("placements.placementimport",),
        trigger="the import finished",
        due=_rejects_due,
        apply=lambda ctx, keys: placement_rejects_delete(workspace=ctx.workspace, ids=keys, now=ctx.now, days=ctx.days),
        describe=_describe("finished_at", "rejects file"),
        batch_size=200,
    )
)
register_store(
    RetentionStore(
        name="placements.uploads",
        rule=PLACEMENT_FILES,
        label="Uploads of unfinished placement imports",
        covers="the uploaded placement file (every row in clear text) of an import whose worker never finished it",
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("placements.placementimport",),
        trigger="the file was uploaded (a finished import's upload is deleted when it ends)",
        due=_uploads_due,
        apply=lambda ctx, keys: placement_uploads_expire(workspace=ctx.workspace, ids=keys, now=ctx.now, days=ctx.days),
        describe=_describe("created_at", "upload"),
        batch_size=200,
    )
)
