"""Consent ledger, policy versions and the contact gate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from consent.models import (
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    ContactAttempt,
    PolicyKind,
    PolicyVersion,
    Purpose,
)
from consent.rules import Decision, can_contact
from kernel.context import current_request_info
from kernel.errors import ActionRefused


class ContactRefused(ActionRefused):
    """The contact rules refused an outbound contact; nothing was sent (the
    refusal was recorded by the gate)."""

    def __init__(self, decision: Decision):
        self.decision = decision
        super().__init__(
            "Not allowed now — " + " ".join(r.message for r in decision.reasons) + " The refusal was recorded."
        )


def policy_current(kind: str, *, at: datetime | None = None) -> PolicyVersion | None:
    at = at or timezone.now()
    return PolicyVersion.objects.filter(kind=kind, effective_at__lte=at).order_by("-effective_at").first()


def policy_publish(
    *,
    kind: str,
    version: str,
    text: str,
    effective_at: datetime | None = None,
    material_change: bool = False,
    actor: Any = None,
) -> PolicyVersion:
    if kind not in PolicyKind.values:
        raise ValidationError({"kind": "Unknown policy kind."})
    text = text.replace("\r\n", "\n")  # the same hash whether typed in a browser or read from a file
    if not text.strip():
        raise ValidationError({"text": "The policy text is empty."})
    if PolicyVersion.objects.filter(kind=kind, version=version).exists():
        raise ValidationError({"version": "This version already exists."})
    with transaction.atomic():
        policy = PolicyVersion.objects.create(
            kind=kind,
            version=version,
            text=text,
            text_hash=PolicyVersion.hash_text(text),
            effective_at=effective_at or timezone.now(),
            material_change=material_change,
        )
        audit_record(
            action="policy.published",
            workspace=None,
            obj=policy,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"kind": kind, "version": version, "material": material_change},
        )
        # Everyone's "already accepted" memo is now stale.
        transaction.on_commit(lambda: cache.set("policy-generation", timezone.now().timestamp(), None))
        if material_change:
            from consent.tasks import policy_notify_debtors

            transaction.on_commit(lambda: policy_notify_debtors.delay(str(policy.pk)))
    return policy


def consent_record(
    *,
    workspace: Any,
    subject_type: str,
    subject_id: str,
    purpose: str,
    action: str,
    source: str,
    notice: PolicyVersion | None = None,
    lawful_basis: str = "consent",
    actor: Any = None,
) -> ConsentRecord:
    """Append a grant or withdrawal with its proof: the notice version and text hash
    shown, where it came from, the client address and agent. Withdrawing takes the
    same single call as granting."""
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": f"Unknown purpose {purpose!r}."})
    if action not in ConsentAction.values:
        raise ValidationError({"action": "Use grant or withdraw."})
    if source not in ConsentSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    if notice is None:
        notice = policy_current(
            PolicyKind.COOKIES if purpose == Purpose.ANALYTICS_COOKIES else PolicyKind.COLLECTION_NOTICE
        )
    info = current_request_info()
    with transaction.atomic():
        record = ConsentRecord.objects.for_workspace(workspace).create(
            workspace_id=getattr(workspace, "pk", workspace),
            subject_type=subject_type,
            subject_id=str(subject_id),
            purpose=purpose,
            action=action,
            lawful_basis=lawful_basis,
            source=source,
            notice=notice,
            notice_version=notice.version if notice else "",
            notice_hash=notice.text_hash if notice else "",
            ip=info.ip,
            user_agent=info.user_agent[:400],
            actor_user_id=getattr(actor, "pk", None) or info.actor_user_id,
        )
        audit_record(
            action=f"consent.{action}",
            workspace=workspace,
            obj=record,
            metadata={"purpose": purpose, "source": source, "subject_type": subject_type},
        )
    return record


def consent_current(*, workspace: Any, subject_type: str, subject_id: str) -> dict[str, str]:
    """Purpose → 'grant' / 'withdraw' for every purpose ever recorded (latest wins)."""
    state: dict[str, str] = {}
    for purpose, action in (
        ConsentRecord.objects.for_workspace(workspace)
        .filter(subject_type=subject_type, subject_id=str(subject_id))
        .order_by("created_at", "id")
        .values_list("purpose", "action")
    ):
        state[purpose] = action
    return state


def contact_decide(*, debt: Any, channel: str, at: datetime | None = None, actor: Any = None) -> Decision:
    """Decide and record the decision (allowed or refused, with every reason)."""
    decision = can_contact(debt, channel, at or timezone.now())
    ContactAttempt.objects.for_workspace(debt.workspace_id).create(
        workspace_id=debt.workspace_id,
        debt=debt,
        channel=channel,
        allowed=decision.allowed,
        reasons=[r.as_dict() for r in decision.reasons],
        actor_user_id=getattr(actor, "pk", None),
    )
    if not decision.allowed:
        audit_record(
            action="contact.refused",
            workspace=debt.workspace_id,
            obj=debt,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"channel": channel, "reasons": [r.code for r in decision.reasons]},
        )
    return decision


def consent_proof(*, workspace: Any, subject_type: str, subject_id: str) -> list[dict[str, Any]]:
    """Every consent record of a person, oldest first, with the notice version and
    the hash of its exact text — the proof that consent was given (GDPR Art. 7(1))."""
    rows = []
    for r in (
        ConsentRecord.objects.for_workspace(workspace)
        .filter(subject_type=subject_type, subject_id=str(subject_id))
        .order_by("created_at", "id")
    ):
        rows.append(
            {
                "time": r.created_at.isoformat(),
                "purpose": r.purpose,
                "action": r.action,
                "lawful_basis": r.lawful_basis,
                "source": r.source,
                "notice_version": r.notice_version,
                "notice_sha256": r.notice_hash,
                "ip": r.ip or "",
                "user_agent": r.user_agent,
                "recorded_by_user_id": r.actor_user_id or "",
            }
        )
    return rows


def disclosure_record(
    *,
    workspace: Any,
    debtor: Any,
    recipient_type: str,
    recipient_name: str,
    categories: list[str],
    purpose: str,
    actor: Any = None,
) -> Any:
    """Record a disclosure of a debtor's data to a third party (who, what, when, why)."""
    from consent.models import Disclosure

    if not recipient_name.strip() or not purpose.strip() or not categories:
        raise ValidationError({"recipient_name": "Name the recipient, the categories disclosed and why."})
    with transaction.atomic():
        disclosure = Disclosure.objects.for_workspace(workspace).create(
            workspace_id=getattr(workspace, "pk", workspace),
            debtor=debtor,
            recipient_type=recipient_type,
            recipient_name=recipient_name.strip()[:200],
            categories=sorted(set(categories)),
            purpose=purpose.strip()[:200],
            actor_user_id=getattr(actor, "pk", None),
        )
        audit_record(
            action="personal_data.disclosed",
            workspace=workspace,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"recipient_type": recipient_type, "categories": sorted(set(categories))},
        )
    return disclosure
