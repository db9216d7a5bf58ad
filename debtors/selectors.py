"""Reads for the debtors app. Every function takes the workspace (and, for client
users and client-scoped keys, the client) and never fails open."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.http import Http404

from accounts.models import Client, Membership, Workspace
from accounts.roles import can
from debtors.models import Debt, DebtEvent, Debtor, EntryKind, LedgerEntry
from debtors.services.debtors import REGION_FOR_JURISDICTION
from kernel.crypto.blind_index import blind_index, normalise_phone

# --- Debtors ---------------------------------------------------------------


def debtors_list(*, workspace: Workspace, client_scope: Client | None = None) -> QuerySet[Debtor]:
    qs = Debtor.objects.for_workspace(workspace)
    if client_scope is not None:
        qs = qs.filter(debts__client=client_scope).distinct()
    return qs


def debtor_get(*, workspace: Workspace, debtor_id: Any, client_scope: Client | None = None) -> Debtor:
    debtor = debtors_list(workspace=workspace, client_scope=client_scope).filter(pk=debtor_id).first()
    if debtor is None:
        raise Http404("No such debtor")
    return debtor


def debtor_by_external_ref(*, workspace: Workspace, external_ref: str) -> Debtor | None:
    if not external_ref:
        return None
    return Debtor.objects.for_workspace(workspace).filter(external_ref=external_ref).first()


def exact_search_filter(workspace: Workspace, query: str, *, prefix: str = "") -> Q:
    """One box, exact matches: email, phone, national id, name (whole, normalised),
    external reference or debt reference. Encrypted fields are matched through their
    blind indexes, so nothing is decrypted or scanned."""
    ws = workspace.pk
    query = query.strip()
    q = (
        Q(**{f"{prefix}email_bidx": blind_index(ws, "email", query, "email")})
        | Q(**{f"{prefix}national_id_bidx": blind_index(ws, "national_id", query, "identifier")})
        | Q(**{f"{prefix}full_name_bidx": blind_index(ws, "debtors.debtor.full_name", query, "text")})
        | Q(**{f"{prefix}external_ref": query})
    )
    try:  # stored phones are E.164: read a local number with the workspace's region
        phone_query = normalise_phone(query, REGION_FOR_JURISDICTION.get(workspace.jurisdiction))
    except ValueError:
        phone_query = ""
    phone = blind_index(ws, "phone", phone_query, "phone") if phone_query else ""
    if phone:
        q |= Q(**{f"{prefix}phone_bidx": phone})
    return q


def debt_search_filter(workspace: Workspace, query: str) -> Q:
    """Debts of the debtors matching ``query`` exactly, or with that reference.
    Two steps (debtors by blind index, then their debts) so each side uses its own
    index instead of joining every debt to its debtor."""
    term = query.strip()
    ids = list(
        Debtor.objects.for_workspace(workspace)
        .filter(exact_search_filter(workspace, term))
        .values_list("id", flat=True)[:1000]
    )
    return Q(debtor_id__in=ids) | Q(reference=term)


# --- Debts -----------------------------------------------------------------


def debts_list(
    *,
    workspace: Workspace,
    client_scope: Client | None = None,
    status: str | None = None,
    client_id: Any = None,
    agent_id: object = None,
    due_from: date | None = None,
    due_to: date | None = None,
    search: str | None = None,
) -> QuerySet[Debt]:
    qs = Debt.objects.for_workspace(workspace).select_related("client", "debtor", "assigned_agent")
    if client_scope is not None:
        qs = qs.filter(client=client_scope)
    if status:
        qs = qs.filter(status=status)
    if client_id:
        qs = qs.filter(client_id=client_id)
    if agent_id:
        qs = qs.filter(assigned_agent_id=agent_id)
    if due_from:
        qs = qs.filter(due_date__gte=due_from)
    if due_to:
        qs = qs.filter(due_date__lte=due_to)
    if search:
        qs = qs.filter(debt_search_filter(workspace, search))
    return qs


def debt_get(*, workspace: Workspace, debt_id: Any, client_scope: Client | None = None, lock: bool = False) -> Debt:
    qs = Debt.objects.for_workspace(workspace).select_related("client", "debtor")
    if client_scope is not None:
        qs = qs.filter(client=client_scope)
    debt = qs.filter(pk=debt_id).first()
    if debt is None:
        raise Http404("No such debt")
    return debt


def ledger_for_debt(*, debt: Debt) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.for_workspace(debt.workspace_id).filter(debt=debt).order_by("posted_at", "id")


def balance_breakdown(*, debt: Debt) -> dict[str, int]:
    """What the balance is made of, from the ledger (one aggregate query)."""
    rows = (
        LedgerEntry.objects.for_workspace(debt.workspace_id)
        .filter(debt=debt)
        .values("kind")
        .annotate(total=Sum("amount_minor"))
    )
    by_kind: dict[str, int] = {r["kind"]: r["total"] for r in rows}
    out = {kind: by_kind.get(kind, 0) for kind in EntryKind.values}
    out["balance"] = sum(by_kind.values())
    return out


def timeline_for_debt(*, debt: Debt, limit: int = 200) -> QuerySet[DebtEvent]:
    return (
        DebtEvent.objects.for_workspace(debt.workspace_id)
        .filter(debt=debt)
        .select_related("actor")
        .order_by("-created_at", "-id")[:limit]
    )


def related_get(model: Any, *, debt: Debt, object_id: object) -> Any:
    """A note, document, plan, dispute… of this debt — 404 if it belongs elsewhere."""
    obj = model.objects.for_workspace(debt.workspace_id).filter(debt=debt, pk=object_id).first()
    if obj is None:
        raise Http404("Not found")
    return obj


def debts_visible_to(*, workspace: Workspace, membership: Any) -> QuerySet[Debt]:
    """The debts a member may see: agents their assigned debts, client users their
    client's debts, everyone else with debts.view_all the whole workspace."""
    qs = Debt.objects.for_workspace(workspace)
    if membership is None:
        return qs.none()
    if membership.client_id is not None:
        return qs.filter(client_id=membership.client_id)
    if can(membership, "debts.view_all"):
        return qs
    return qs.filter(assigned_agent_id=membership.user_id)


def debt_workable(*, workspace: Workspace, membership: Any, debt_id: Any) -> Debt:
    """A debt the member sees and that the agency works (a client user works none),
    with its client and debtor; 404 otherwise, whether it is missing or someone
    else's."""
    from django.http import Http404

    if membership is None or membership.client_id is not None:
        raise Http404("No such debt")
    debt = (
        debts_visible_to(workspace=workspace, membership=membership)
        .select_related("client", "debtor")
        .filter(pk=debt_id)
        .first()
    )
    if debt is None:
        raise Http404("No such debt")
    return debt


def can_see_contact_details(membership: Any) -> bool:
    """Client users see their portfolio but never debtors' contact details."""
    return membership is not None and membership.client_id is None


def debt_visible_get(*, workspace: Workspace, membership: Membership, debt_id: Any) -> Debt:
    """A debt the member sees, with what the debt page shows of it; 404 otherwise,
    whether it is missing or someone else's."""
    debt = (
        debts_visible_to(workspace=workspace, membership=membership)
        .select_related("client", "debtor", "assigned_agent")
        .filter(pk=debt_id)
        .first()
    )
    if debt is None:
        raise Http404("No such debt")
    return debt
