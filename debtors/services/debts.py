from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Client, Membership, User, Workspace
from accounts.roles import Role
from accounts.types import Actor
from audit import actions
from audit.services import audit_record
from debtors.models import ALLOWED_TRANSITIONS, Debt, Debtor, DebtParty, DebtStatus, EntryKind, PartyRole
from debtors.services import priority
from debtors.services.holds import legal_hold_sync
from debtors.services.ledger import entry_post
from debtors.services.money import exponent
from debtors.services.status import debt_event, debt_lock, debt_status_set


@dataclass
class DebtInput:
    reference: str
    original_amount_minor: int
    currency: str
    due_date: date | None = None
    opened_on: date | None = None
    charge_off_date: date | None = None
    original_creditor: str = ""
    product: str = ""


def _validate(workspace: Workspace, client: Client, debtor: Debtor, data: DebtInput) -> None:
    errors: dict[str, str] = {}
    if client.workspace_id != workspace.pk:
        errors["client"] = "Unknown client."
    if debtor.workspace_id != workspace.pk:
        errors["debtor"] = "Unknown debtor."
    data.reference = (data.reference or "").strip()
    if not data.reference:
        errors["reference"] = "A reference is required."
    elif len(data.reference) > 64:
        errors["reference"] = "At most 64 characters."
    try:
        exponent(data.currency)
    except ValueError as exc:
        errors["currency"] = str(exc)
    if data.original_amount_minor <= 0:
        errors["original_amount"] = "The original amount must be positive."
    if errors:
        raise ValidationError(errors)


def debt_create(*, workspace: Workspace, client: Client, debtor: Debtor, data: DebtInput, actor: Actor = None) -> Debt:
    """Place a debt: the debt row and its opening charge in one transaction, so the
    balance equals the original amount from the first moment."""
    data.currency = (data.currency or "").upper()
    _validate(workspace, client, debtor, data)
    if Debt.objects.for_workspace(workspace).filter(client=client, reference=data.reference).exists():
        raise ValidationError({"reference": "This client already has a debt with this reference."})
    try:
        with transaction.atomic():
            debt = Debt(
                workspace=workspace,
                client=client,
                debtor=debtor,
                reference=data.reference,
                original_creditor=data.original_creditor[:200],
                product=data.product[:100],
                currency=data.currency,
                original_amount_minor=data.original_amount_minor,
                due_date=data.due_date,
                opened_on=data.opened_on,
                charge_off_date=data.charge_off_date,
            )
            now = timezone.now()
            debt.priority_score = priority.score(
                status=DebtStatus.ON_HOLD if debtor.is_minor else DebtStatus.NEW,
                balance_minor=data.original_amount_minor,
                currency=data.currency,
                due_date=data.due_date,
                last_contact_at=None,
                today=timezone.localdate(now),
                now=now,
            )
            debt.save(force_insert=True)
            # A hold on the person, the client's portfolio or the workspace covers new debts too.
            legal_hold_sync(workspace=workspace, debt_ids=[debt.pk])
            entry_post(
                debt=debt,
                kind=EntryKind.CHARGE,
                amount_minor=data.original_amount_minor,
                effective_on=data.charge_off_date or data.due_date or data.opened_on,
                memo="Placed balance",
                actor=actor,
            )
            audit_record(
                action=actions.DEBT_CREATED, workspace=workspace, obj=debt, actor_user_id=getattr(actor, "pk", None)
            )
            if debtor.is_minor:
                debt_status_set(debt, DebtStatus.ON_HOLD, actor=actor, reason="debtor under 18: held until reviewed")
    except IntegrityError:
        raise ValidationError({"reference": "This client already has a debt with this reference."}) from None
    return debt


COLLECTING = frozenset({DebtStatus.ACTIVE, DebtStatus.PROMISE, DebtStatus.PAYMENT_PLAN})


def allowed_next_statuses(debt: Debt) -> list[str]:
    return sorted(ALLOWED_TRANSITIONS[debt.status])


def debt_change_status(*, debt: Debt, status: str, actor: Actor = None, reason: str = "") -> Debt:
    """Only allowed transitions; an open dispute keeps the debt on hold until resolved."""
    with transaction.atomic():
        debt = debt_lock(debt)
        if (
            debt.status == DebtStatus.DISPUTED
            and debt.disputes.filter(status="open").exists()
            and status
            not in (
                DebtStatus.CLOSED,
                DebtStatus.RECALLED,
                DebtStatus.WRITTEN_OFF,
            )
        ):
            raise ValidationError({"status": "Resolve the open dispute first."})
        if status in COLLECTING and debt.debtor.is_minor:
            raise ValidationError({"status": "The debtor is flagged under 18: review the flag before collecting."})
        return debt_status_set(debt, status, actor=actor, reason=reason)


def debt_assign(*, debt: Debt, agent: User | None, actor: Actor = None) -> Debt:
    """Assign to a member of the same workspace who can work debts (or unassign)."""
    if agent is not None:
        member = Membership.objects.for_workspace(debt.workspace_id).filter(user=agent).first()
        if member is None or member.role not in (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.OWNER) or member.client_id:
            raise ValidationError({"agent": "Assign to an agent or manager of this workspace."})
    with transaction.atomic():
        debt = debt_lock(debt)
        Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(
            assigned_agent=agent, updated_at=timezone.now()
        )
        debt.assigned_agent = agent
        debt_event(debt, "assigned", "Assigned" if agent else "Unassigned", actor=actor)
        audit_record(
            action=actions.DEBT_ASSIGNED,
            workspace=debt.workspace_id,
            obj=debt,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"agent_user_id": agent.pk if agent else None},
        )
    return debt


def debt_add_party(*, debt: Debt, debtor: Debtor, role: str, actor: Actor = None) -> DebtParty:
    if role not in (PartyRole.CO_DEBTOR, PartyRole.GUARANTOR):
        raise ValidationError({"role": "Use co_debtor or guarantor."})
    if debtor.workspace_id != debt.workspace_id or debtor.pk == debt.debtor_id:
        raise ValidationError({"debtor": "Choose another debtor of this workspace."})
    with transaction.atomic():
        party, created = DebtParty.objects.for_workspace(debt.workspace_id).get_or_create(
            workspace_id=debt.workspace_id, debt=debt, debtor=debtor, defaults={"role": role}
        )
        if created:
            debt_event(debt, "party_added", f"{PartyRole(role).label} linked", obj=party, actor=actor)
    return party
