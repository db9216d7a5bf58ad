"""Consent ledger, policy versions and the contact gate."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.types import Actor
from audit import actions
from audit.services import audit_record
from consent.models import (
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    ContactAttempt,
    ContactPolicy,
    Disclosure,
    PolicyAcceptance,
    PolicyKind,
    PolicyVersion,
    Purpose,
    VisitorConsent,
)
from consent.rules import Decision, can_contact
from consent.selectors import policy_current
from consent.tasks import policy_notify_debtors
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


def policy_publish(
    *,
    kind: str,
    version: str,
    text: str,
    effective_at: datetime | None = None,
    material_change: bool = False,
    actor: Actor = None,
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
            action=actions.POLICY_PUBLISHED,
            workspace=None,
            obj=policy,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"kind": kind, "version": version, "material": material_change},
        )
        # Everyone's "already accepted" memo is now stale.
        transaction.on_commit(lambda: cache.set("policy-generation", timezone.now().timestamp(), None))
        if material_change:
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
    actor: Actor = None,
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
            action=actions.consent_change(action),
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


def contact_decide(*, debt: Any, channel: str, at: datetime | None = None, actor: Actor = None) -> Decision:
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
            action=actions.CONTACT_REFUSED,
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


PROOF_COLUMNS = [
    "time",
    "purpose",
    "action",
    "lawful_basis",
    "source",
    "notice_version",
    "notice_sha256",
    "ip",
    "user_agent",
    "recorded_by_user_id",
]


def proof_csv(rows: list[dict[str, Any]]) -> str:
    """``consent_proof`` rows as CSV text (the agency's export and the debtor's own)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PROOF_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def disclosure_record(
    *,
    workspace: Any,
    debtor: Any,
    recipient_type: str,
    recipient_name: str,
    categories: list[str],
    purpose: str,
    actor: Actor = None,
) -> Any:
    """Record a disclosure of a debtor's data to a third party (who, what, when, why)."""
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
            action=actions.PERSONAL_DATA_DISCLOSED,
            workspace=workspace,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"recipient_type": recipient_type, "categories": sorted(set(categories))},
        )
    return disclosure


def visitor_consent_record(*, visitor_id: str, analytics: bool) -> VisitorConsent:
    """Append a visitor's cookie choice with the version and hash of the cookie notice
    in force, the client address and agent: the proof of consent for pages outside
    any workspace. Append-only: a new choice is a new row. The row is the proof, so
    no audit event (anonymous visitors would flood the global chain)."""
    notice = policy_current(PolicyKind.COOKIES)
    info = current_request_info()
    return VisitorConsent.objects.create(
        visitor_id=visitor_id,
        analytics=analytics,
        notice_version=notice.version if notice else "",
        notice_hash=notice.text_hash if notice else "",
        ip=info.ip,
        user_agent=info.user_agent[:400],
    )


def policies_accept(*, user: User, policies: Iterable[PolicyVersion]) -> None:
    """Record that the user accepted these policy versions, once each (accepting
    again keeps the first acceptance and its address). The acceptance rows are
    themselves the proof, so no audit event is written."""
    info = current_request_info()
    with transaction.atomic():
        for policy in policies:
            PolicyAcceptance.objects.get_or_create(user=user, policy=policy, defaults={"ip": info.ip})


CONTACT_POLICY_FIELDS = frozenset(
    {
        "start_hour",
        "end_hour",
        "call_cap_7_days",
        "email_cap_7_days",
        "sms_cap_7_days",
        "whatsapp_cap_7_days",
        "allow_weekends",
        "blackout_dates",
    }
)


def contact_policy_update(
    *, workspace: Workspace, values: Mapping[str, Any], changed_fields: Iterable[str]
) -> ContactPolicy:
    """Set the workspace's own contact rules (its one ContactPolicy, created on first
    save) and audit the names of the fields that changed. The contact engine takes
    the stricter of these and the jurisdiction's, so they can only tighten it."""
    unknown = set(values) - CONTACT_POLICY_FIELDS
    if unknown:
        raise ValueError(f"not a contact rule: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        policy = ContactPolicy.objects.for_workspace(workspace).select_for_update().first() or ContactPolicy(
            workspace=workspace
        )
        for name, value in values.items():
            setattr(policy, name, value)
        policy.workspace = workspace
        policy.save()
        audit_record(
            action=actions.WORKSPACE_CONTACT_RULES_CHANGED,
            workspace=workspace,
            obj=policy,
            metadata={"fields": sorted(changed_fields)},
        )
    return policy
