"""The communications app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

A message's body belongs to the person: erasing them (for inactivity, by the
privacy_requests store, or on request) deletes it. What erasure keeps — the refusal
reasons, proof that a contact was *not* made (12 CFR 1006.100) — and the log of a
debt that is over while its person is still on file (they owe on another debt) are
collection records of that debt: they go ``COLLECTION_RECORDS`` after its last
collection activity. Delivery tracking stores nothing of its own: a provider's
delivery or bounce event only changes the message's status and adds a timeline line,
and its payload is not kept.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from communications.models import Communication
from consent.retention import debts_over_since
from kernel.privacy.registry import COLLECTION_RECORDS
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, register_store


def _log_due(ctx: PurgeContext) -> QuerySet[Communication]:
    """Messages and logged contacts older than the cutoff, on debts whose collection is
    over, whose last activity is older still, with no open dispute and no legal hold."""
    debts = debts_over_since(workspace=ctx.workspace, cutoff=ctx.cutoff)
    return Communication.objects.for_workspace(ctx.workspace).filter(
        occurred_at__lt=ctx.cutoff, debt_id__in=debts.values("pk")
    )


def _log_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = Communication.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()
    return int(per_model.get(Communication._meta.label, 0))


def _log_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = Communication.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"{channel} {pk} ({status}) on debt {ref}, {when:%Y-%m-%d}"
        for pk, channel, status, ref, when in rows.values_list(
            "pk", "channel", "status", "debt__reference", "occurred_at"
        )
    ]


register_store(
    RetentionStore(
        name="communications.closed_debts",
        rule=COLLECTION_RECORDS,
        label="Messages and contact log of debts that are over",
        covers=(
            "each message sent, refused or logged on a paid, settled, written-off, recalled or closed debt: "
            "its body (already gone if the person was erased), channel, status and refusal reasons"
        ),
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("communications.communication",),
        trigger="the last collection activity on a debt that is over",
        due=_log_due,
        apply=_log_apply,
        describe=_log_describe,
    )
)
