"""The communication log: every contact with a debtor, made, received or refused.

``contact_gate`` is the one gate every outbound contact passes: the contact rules
decide (consent.rules), the decision is recorded, and a refusal is stored here
with its reasons before ``ContactRefused`` is raised — nothing is sent. All
``Communication`` rows are built by ``_communication`` below, whichever way
they arrive (a logged call, a queued message, a refusal)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from communications.models import Channel, Communication
from consent.rules import Decision
from consent.services import ContactRefused, contact_decide
from debtors.models import Debt
from debtors.services.ledger import debt_event
from debtors.services.priority import rescore
from kernel.crypto.fields import FieldErasure, field_erase

# ``Communication.outcome`` of a notice the law requires (before erasure for inactivity):
# not collection contact — it passes no contact rule, when queued or when sent (an
# opt-out of collection messages must not stop it), and is never the debt's last contact.
LEGAL_NOTICE = "legal_notice"


def _communication(*, debt: Debt, channel: str, at: datetime, actor: Actor, **fields: Any) -> Communication:
    """Insert one row of the log (inside the caller's transaction)."""
    comm = Communication(
        workspace_id=debt.workspace_id,
        debt=debt,
        debtor_id=debt.debtor_id,
        channel=channel,
        occurred_at=at,
        created_by=actor_user(actor),
        **fields,
    )
    comm.save(force_insert=True)
    return comm


def contact_made(*, debt: Debt, at: datetime) -> None:
    """A contact counts: the debt's last contact moves and its priority follows."""
    Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(last_contact_at=at)
    rescore(debt)


def contact_not_made(*, debt: Debt) -> None:
    """A message that never reached the debtor is no contact: the debt's last
    contact is its latest communication that was not refused, failed or bounced
    (and its priority follows)."""
    Debt.objects.for_workspace(debt.workspace_id).select_for_update().filter(pk=debt.pk).first()  # vs. a new contact
    last = (
        Communication.objects.for_workspace(debt.workspace_id)
        .filter(debt_id=debt.pk)
        .exclude(status__in=["refused", "failed", "bounced"])
        .exclude(outcome=LEGAL_NOTICE)
        .aggregate(last=Max("occurred_at"))["last"]
    )
    Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(last_contact_at=last)
    rescore(debt)


def communication_refused(
    *, debt: Debt, channel: str, reasons: list[dict[str, str]], template: str = "", actor: Actor = None, at: Any = None
) -> Communication:
    """Record an outbound contact the rules refused (nothing was sent)."""
    with transaction.atomic():
        comm = _communication(
            debt=debt,
            channel=channel,
            at=at or timezone.now(),
            actor=actor,
            direction="outbound",
            status="refused",
            refusal_reasons=reasons,
            template=template[:100],
        )
        debt_event(
            debt,
            f"communication.{channel}",
            f"{channel.title()} refused: " + ", ".join(r["code"] for r in reasons),
            obj=comm,
            actor=actor,
        )
    return comm


def contact_gate(*, debt: Any, channel: str, at: datetime, actor: Actor = None, template: str = "") -> Decision:
    """The gate every outbound contact passes: decide and record; if refused, store
    the refused contact with its reasons and raise ``ContactRefused`` (nothing is sent)."""
    decision = contact_decide(debt=debt, channel=channel, at=at, actor=actor)
    if not decision.allowed:
        communication_refused(
            debt=debt,
            channel=channel,
            reasons=[r.as_dict() for r in decision.reasons],
            template=template,
            actor=actor,
            at=at,
        )
        raise ContactRefused(decision)
    return decision


def communication_queued(
    *, debt: Debt, channel: str, content: str, template: str, template_label: str, at: datetime, actor: Actor = None
) -> Communication:
    """A message the rules allowed, waiting for delivery (the caller queues it)."""
    comm = _communication(
        debt=debt,
        channel=channel,
        at=at,
        actor=actor,
        direction="outbound",
        status="queued",
        content=content,
        template=template[:100],
    )
    contact_made(debt=debt, at=at)
    debt_event(debt, f"communication.{channel}", f"{channel.title()} queued ({template_label})", obj=comm, actor=actor)
    audit_record(
        action=actions.COMMUNICATION_QUEUED,
        workspace=debt.workspace_id,
        obj=comm,
        actor_user_id=getattr(actor, "pk", None),
        metadata={"channel": channel, "template": template},
    )
    return comm


def legal_notice_queued(
    *,
    debt: Debt,
    channel: str,
    content: str,
    template: str,
    template_label: str,
    at: datetime | None = None,
    actor: Actor = None,
) -> Communication:
    """A notice the law requires, waiting for delivery (``LEGAL_NOTICE``; the caller
    queues it): recorded, on the timeline and audited like a message, but it does not
    count as contact (the debt's last contact does not move)."""
    comm = _communication(
        debt=debt,
        channel=channel,
        at=at or timezone.now(),
        actor=actor,
        direction="outbound",
        status="queued",
        outcome=LEGAL_NOTICE,
        content=content,
        template=template[:100],
    )
    debt_event(debt, f"communication.{channel}", f"{channel.title()} queued ({template_label})", obj=comm, actor=actor)
    audit_record(
        action=actions.COMMUNICATION_QUEUED,
        workspace=debt.workspace_id,
        obj=comm,
        actor_user_id=getattr(actor, "pk", None),
        metadata={"channel": channel, "template": template, "legal_notice": True},
    )
    return comm


def communication_log(
    *,
    debt: Debt,
    channel: str,
    direction: str = "outbound",
    outcome: str = "",
    content: str = "",
    status: str = "logged",
    actor: Actor = None,
    at: Any = None,
    template: str = "",
    check_rules: bool = True,
) -> Communication:
    """Record a contact (a call, a letter, a message). An outbound contact goes
    through the contact rules first: if they refuse, the refusal is recorded with
    its reasons and ``ContactRefused`` is raised — callers show the reasons."""
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Use one of: {', '.join(Channel.values)}."})
    if direction not in ("outbound", "inbound"):
        raise ValidationError({"direction": "Use outbound or inbound."})
    at = at or timezone.now()
    if direction == "outbound" and check_rules:
        contact_gate(debt=debt, channel=channel, at=at, actor=actor, template=template)
    with transaction.atomic():
        comm = _communication(
            debt=debt,
            channel=channel,
            at=at,
            actor=actor,
            direction=direction,
            outcome=outcome[:32],
            content=content or None,
            status=status,
            template=template[:100],
        )
        contact_made(debt=debt, at=at)
        debt_event(
            debt,
            f"communication.{channel}",
            f"{direction.title()} {channel}" + (f": {outcome}" if outcome else ""),
            obj=comm,
            actor=actor,
        )
        audit_record(
            action=actions.COMMUNICATION_LOGGED,
            workspace=debt.workspace_id,
            obj=comm,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"channel": channel},
        )
    return comm


def communications_erase(
    *,
    workspace_id: int,
    debtor_id: Any,
    fields: Mapping[Any, Mapping[str, FieldErasure]],
    actor: Actor = None,
    reason: str = "",
) -> dict[str, int]:
    """Erase the contact history of one debtor as privacy_requests decided: the
    message content goes (or is kept under a retention key); the row stays, because
    that a contact was made, when and on which channel is the record the contact
    rules and 12 CFR 1006.100 need. Safe to repeat; audited with counts."""
    by_id = {str(k): v for k, v in fields.items()}
    changed_rows = 0
    names: set[str] = set()
    with transaction.atomic():
        for comm in (
            Communication.objects.for_workspace(workspace_id)
            .filter(pk__in=list(by_id), debtor_id=debtor_id)
            .order_by("pk")
        ):
            changed: list[str] = []
            for name, erasure in by_id[str(comm.pk)].items():
                changed += field_erase(comm, name, erasure)
            if changed:
                comm.save(update_fields=sorted(set(changed)))
                changed_rows += 1
                names.update(changed)
        if changed_rows:
            audit_record(
                action=actions.PERSONAL_DATA_ERASED,
                workspace=workspace_id,
                object_type="debtors.debtor",
                object_id=str(debtor_id),
                actor_user_id=getattr(actor, "pk", None),
                metadata={
                    "model": "communications.communication",
                    "changed": changed_rows,
                    "fields": sorted(names),
                    "reason": reason[:200],
                },
            )
    return {"deleted": 0, "changed": changed_rows}
