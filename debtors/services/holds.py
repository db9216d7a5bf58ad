"""Which legal holds cover what, and ``Debt.legal_hold`` kept in step with them.

A hold on the workspace covers everything; on a client's portfolio, every debt the
client placed (including debts placed later); on a debtor, the person and all their
debts; on a debt, that debt and the person whose debt it is (erasure keeps who they
are while their debt is held). Readers that must be exact (erasure, the purge) ask
here; ``Debt.legal_hold`` is the same answer stored on the row, refreshed by
``legal_hold_sync`` when a hold is placed or lifted, when a debt is created and at
the start of every purge run.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from debtors.models import Debt, Debtor, HoldScope, LegalHold


def holds_active(*, workspace: Any) -> QuerySet[LegalHold]:
    return LegalHold.objects.for_workspace(workspace).filter(lifted_at__isnull=True)


def _debt_cover_q(workspace: Any) -> Q | None:
    """A Q over debts: those some active hold covers; None when the whole workspace is held."""
    rows = list(holds_active(workspace=workspace).values_list("scope", "debt_id", "debtor_id", "client_id"))
    if any(scope == HoldScope.WORKSPACE for scope, *_ in rows):
        return None
    debts = [d for scope, d, _, _ in rows if scope == HoldScope.DEBT]
    debtors = [p for scope, _, p, _ in rows if scope == HoldScope.DEBTOR]
    clients = [c for scope, _, _, c in rows if scope == HoldScope.PORTFOLIO]
    return Q(pk__in=debts) | Q(debtor_id__in=debtors) | Q(client_id__in=clients)


def workspace_held(*, workspace: Any) -> bool:
    return holds_active(workspace=workspace).filter(scope=HoldScope.WORKSPACE).exists()


def holds_for_debt(*, workspace: Any, debt: Debt) -> list[LegalHold]:
    """The active holds that cover ``debt``."""
    return list(
        holds_active(workspace=workspace)
        .filter(
            Q(scope=HoldScope.WORKSPACE)
            | Q(debt_id=debt.pk)
            | Q(debtor_id=debt.debtor_id)
            | Q(client_id=debt.client_id, scope=HoldScope.PORTFOLIO)
        )
        .select_related("client")
    )


def holds_for_debtor(*, workspace: Any, debtor: Debtor) -> list[LegalHold]:
    """The active holds that cover the person or any of their debts."""
    debts = list(Debt.objects.for_workspace(workspace).filter(debtor_id=debtor.pk).values_list("pk", "client_id"))
    return list(
        holds_active(workspace=workspace)
        .filter(
            Q(scope=HoldScope.WORKSPACE)
            | Q(debtor_id=debtor.pk)
            | Q(debt_id__in=[d for d, _ in debts])
            | Q(client_id__in={c for _, c in debts}, scope=HoldScope.PORTFOLIO)
        )
        .select_related("client", "debt")
    )


def debtors_unheld(*, workspace: Any, debtors: QuerySet[Debtor]) -> QuerySet[Debtor]:
    """``debtors`` without the people a hold covers (directly or through a debt).
    Reads the holds themselves, so it is exact even before ``legal_hold_sync``."""
    cover = _debt_cover_q(workspace)
    if cover is None:
        return debtors.none()
    held_debtors = Debt.objects.for_workspace(workspace).filter(cover).values("debtor_id")
    direct = holds_active(workspace=workspace).filter(scope=HoldScope.DEBTOR).values("debtor_id")
    return debtors.exclude(pk__in=held_debtors).exclude(pk__in=direct)


def debts_unheld(*, workspace: Any, debts: QuerySet[Debt]) -> QuerySet[Debt]:
    """``debts`` without those a hold covers (exact, like ``debtors_unheld``)."""
    cover = _debt_cover_q(workspace)
    if cover is None:
        return debts.none()
    return debts.exclude(cover)


def legal_hold_sync(*, workspace: Any, debt_ids: list[Any] | None = None) -> int:
    """Set ``Debt.legal_hold`` to whether an active hold covers each debt (all of the
    workspace's, or ``debt_ids``); how many rows changed."""
    qs = Debt.objects.for_workspace(workspace)
    if debt_ids is not None:
        qs = qs.filter(pk__in=debt_ids)
    cover = _debt_cover_q(workspace)
    if cover is None:
        return qs.filter(legal_hold=False).update(legal_hold=True)
    changed = qs.filter(cover, legal_hold=False).update(legal_hold=True)
    changed += qs.exclude(cover).filter(legal_hold=True).update(legal_hold=False)
    return changed
