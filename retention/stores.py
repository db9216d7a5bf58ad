"""The retention app's own stores: what a closed workspace leaves behind, its
exports, and the final receipt (docs/retention.md, "Closing a workspace"). Imported from ready().

Past a closed workspace's ``purge_after`` (``ACCOUNT_LIFETIME`` after the closure):
memberships, invitations, API keys and saved views are deleted — a legal hold keeps
records about debts and people, it does not keep a closed workspace's logins — and
its clients' remittance bank details are kept until the books go
(``FINANCIAL_RECORDS`` after the financial year of the closure), then wiped. The
people are erased by ``privacy_requests`` (its ``inactive_people`` store), the books
by ``debtors``. Exports are deleted ``WORKSPACE_EXPORTS`` after they are built, or at
the purge if that comes first. The final store runs last: when nothing of the closed
workspace is due any more it marks it purged and sends the receipt
(``closure_receipt``).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from typing import Any

from django.db import models

from accounts.models import ApiKey, Client, Invitation, Membership
from debtors.models import SavedView
from kernel.privacy.registry import ACCOUNT_LIFETIME, FINANCIAL_RECORDS
from kernel.retention import Action, PurgeContext, RetentionStore, register_store
from retention.closure_export import WORKSPACE_EXPORTS, export_delete, exports_list
from retention.closure_receipt import (
    FINAL_STORE,
    books_until,
    closed_and_past,
    workspace_finished,
    workspace_purge_finish,
)

CLOSED = "the workspace is closed (its purge date, purge_after)"


def _closed_rows(model: type[models.Model]) -> Any:
    def due(ctx: PurgeContext) -> models.QuerySet[Any]:
        qs = model.objects.for_workspace(ctx.workspace)  # type: ignore[attr-defined]
        # A hold on the whole workspace keeps who had access too (the evidence of a case).
        if ctx.options.get("workspace_held"):
            return qs.none()
        return qs if closed_and_past(ctx.workspace, ctx.now) else qs.none()

    return due


def _delete(model: type[models.Model]) -> Any:
    def apply(ctx: PurgeContext, keys: list[Any]) -> int:
        deleted = model.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()[1]  # type: ignore[attr-defined]
        return int(deleted.get(model._meta.label, 0))

    return apply


def _describe(model: type[models.Model]) -> Any:
    def describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
        return [f"{model._meta.label_lower} {k}" for k in keys]

    return describe


for _model, _name, _label, _covers in (
    (Membership, "retention.closed_memberships", "Members of a closed workspace", "who had access, with which role"),
    (Invitation, "retention.closed_invitations", "Invitations of a closed workspace", "invitees' email addresses"),
    (ApiKey, "retention.closed_api_keys", "API keys of a closed workspace", "key names and hashes, last use"),
    (SavedView, "retention.closed_saved_views", "Saved work-queue views of a closed workspace", "members' filters"),
):
    register_store(
        RetentionStore(
            name=_name,
            rule=ACCOUNT_LIFETIME,
            label=_label,
            covers=_covers,
            action=Action.DELETE,
            due=_closed_rows(_model),
            apply=_delete(_model),
            models=(_model._meta.label_lower,),
            trigger=CLOSED,
            order=900,
            describe=_describe(_model),
        )
    )


# --- Remittance details: kept with the books --------------------------------------------


def _books_gone(ctx: PurgeContext) -> bool:
    ws = ctx.workspace
    if ws is None or ws.closed_at is None:
        return False
    until = datetime.combine(books_until(workspace=ws), time.min, tzinfo=zoneinfo.ZoneInfo(ws.timezone))
    return ctx.now >= until


def _remittance_due(ctx: PurgeContext) -> models.QuerySet[Client]:
    qs = Client.objects.for_workspace(ctx.workspace).filter(remittance_details__isnull=False)
    if ctx.options.get("workspace_held"):
        return qs.none()
    return qs if _books_gone(ctx) else qs.none()


def _remittance_wipe(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(Client.objects.for_workspace(ctx.workspace).filter(pk__in=keys).update(remittance_details=None))


register_store(
    RetentionStore(
        name="retention.closed_remittance_details",
        rule=FINANCIAL_RECORDS,
        label="Clients' remittance bank details of a closed workspace",
        covers="the bank account each client is paid to (kept with the books)",
        action=Action.DELETE,
        due=_remittance_due,
        apply=_remittance_wipe,
        models=("accounts.client",),
        trigger="the end of the financial year in which the workspace was closed",
        order=900,
        describe=lambda ctx, keys: [f"client {k}: remittance details" for k in keys],
    )
)


# --- Exports --------------------------------------------------------------------------------


def _exports_due(ctx: PurgeContext) -> list[str]:
    """Exports past their own expiry, and every export once the workspace's purge has come."""
    purge = closed_and_past(ctx.workspace, ctx.now)
    return sorted(
        e.id
        for e in exports_list(workspace_id=ctx.workspace.pk)
        if purge or e.expired(ctx.now) or e.created_at < ctx.cutoff
    )


def _exports_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    wanted = {str(k) for k in keys}
    return sum(
        export_delete(workspace_id=ctx.workspace.pk, export=e)
        for e in exports_list(workspace_id=ctx.workspace.pk)
        if e.id in wanted
    )


register_store(
    RetentionStore(
        name="retention.closure_exports",
        rule=WORKSPACE_EXPORTS,
        label="Full exports of a closed workspace",
        covers="every record of the workspace, decrypted, in an encrypted ZIP for its owner",
        action=Action.DELETE,
        due=_exports_due,
        apply=_exports_delete,
        order=950,
        batch_size=50,
    )
)


# --- The end --------------------------------------------------------------------------------


def _final_due(ctx: PurgeContext) -> list[str]:
    return [str(ctx.workspace.pk)] if workspace_finished(ctx=ctx) else []


register_store(
    RetentionStore(
        name=FINAL_STORE,
        rule=ACCOUNT_LIFETIME,
        label="Closed workspace: marked purged, final receipt to the owner",
        covers="the closed workspace itself; the receipt says what was purged and what is kept and why",
        action=Action.DELETE,
        due=_final_due,
        apply=lambda ctx, keys: workspace_purge_finish(workspace=ctx.workspace, now=ctx.now),
        trigger=CLOSED,
        order=1000,
        batch_size=1,
    )
)
