"""Restriction, objection, withdrawal of consent and rectification.

- ``restriction_apply(*, request, actor)``: the debtor's processing is restricted
  (``Debtor.processing_restricted``, GDPR Art. 18) and the consent ledger records it
  (``Purpose.PROCESSING`` withdrawn); the contact rules refuse every contact at once
  ("restricted") and ``debtor_update`` refuses changes except for a request.
- ``objection_apply(*, request, actor, channels=None)``: an objection to being
  contacted: all contact (``Purpose.ALL_CONTACT`` withdrawn: "cease_communication"),
  or only the channels named ("opted_out").
- ``withdrawal_apply(*, request, actor, purposes=None)``: consent withdrawn for the
  purposes named, or for every purpose now granted.
- ``rectification_apply(*, request, changes, actor)``: the reviewed corrections go
  through ``debtors.services.debtors.debtor_update`` (normalised, blind indexes and
  audit right; allowed for a restricted person because it fulfils a request), then
  everyone the data was disclosed to is told (GDPR Art. 19): each client that placed
  a debt of the person, and each recipient in the disclosure records: a line on the
  debts' timelines for each, and an email where there is an address.

Each answers the request: it moves to fulfilled with the reason, in the same
transaction as the change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from consent.models import CHANNEL_PURPOSE, ConsentAction, ConsentSource, Disclosure, Purpose
from consent.services import consent_current, consent_record
from debtors.models import Debt, Debtor
from debtors.services.debtors import UPDATABLE, debtor_restriction_set, debtor_update
from debtors.services.status import debt_event
from kernel.privacy.registry import Basis
from privacy_requests.models import PrivacyRequest, RequestStatus, RequestType
from privacy_requests.services import privacy_request_transition

SUBJECT_TYPE = "debtor"


def _ready(request: PrivacyRequest, kind: str) -> tuple[Workspace, Debtor]:
    """The workspace and debtor of a verified request of type ``kind``, or why not."""
    if request.type != kind:
        raise ValidationError({"type": f"This is a {request.type} request, not {kind}."})
    if request.status not in (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS):
        raise ValidationError({"status": "The request must be verified and still open to be fulfilled."})
    if request.debtor_id is None:
        raise ValidationError({"debtor": "The request is not matched to a debtor yet."})
    workspace = Workspace.objects.get(pk=request.workspace_id)
    return workspace, Debtor.objects.for_workspace(workspace).get(pk=request.debtor_id)


def _withdraw(workspace: Workspace, debtor: Debtor, purposes: Iterable[str], actor: Actor) -> None:
    for purpose in purposes:
        consent_record(
            workspace=workspace,
            subject_type=SUBJECT_TYPE,
            subject_id=str(debtor.pk),
            purpose=purpose,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.RIGHTS_REQUEST,
            lawful_basis=Basis.LEGAL_OBLIGATION,
            actor=actor_user(actor),
        )


def restriction_apply(*, request: PrivacyRequest, actor: Actor) -> PrivacyRequest:
    """Restrict processing of the person's data (GDPR Art. 18): not contacted, not
    exported or changed except to fulfil a request, recorded in the consent ledger."""
    workspace, debtor = _ready(request, RequestType.RESTRICTION)
    with transaction.atomic():
        debtor_restriction_set(
            debtor=debtor, restricted=True, actor=actor, reason=f"rights request {request.reference}"
        )
        _withdraw(workspace, debtor, [Purpose.PROCESSING], actor)
        return privacy_request_transition(
            request=request,
            to=RequestStatus.FULFILLED,
            actor=actor,
            reason="Processing restricted: the person is not contacted, and their data is not exported or "
            "changed except to fulfil a request (GDPR Art. 18).",
        )


def objection_apply(*, request: PrivacyRequest, actor: Actor, channels: Iterable[str] | None = None) -> PrivacyRequest:
    """An objection to being contacted: every contact stops (cease communication), or
    only on the ``channels`` named (email, sms, call, whatsapp, letter)."""
    workspace, debtor = _ready(request, RequestType.OBJECTION)
    chosen = sorted(set(channels or ()))
    unknown = [c for c in chosen if c not in CHANNEL_PURPOSE]
    if unknown:
        raise ValidationError({"channels": f"Unknown channels: {', '.join(unknown)}."})
    purposes = [CHANNEL_PURPOSE[c] for c in chosen] if chosen else [Purpose.ALL_CONTACT]
    with transaction.atomic():
        _withdraw(workspace, debtor, purposes, actor)
        what = f"no more contact by {', '.join(chosen)}" if chosen else "no more contact of any kind"
        return privacy_request_transition(
            request=request,
            to=RequestStatus.FULFILLED,
            actor=actor,
            reason=f"Objection recorded: {what} (the contact rules refuse it from now on).",
        )


def withdrawal_apply(*, request: PrivacyRequest, actor: Actor, purposes: Iterable[str] | None = None) -> PrivacyRequest:
    """Withdraw consent for ``purposes`` (Purpose values), or for every purpose the
    person has granted now."""
    workspace, debtor = _ready(request, RequestType.WITHDRAWAL)
    if purposes is None:
        current = consent_current(workspace=workspace, subject_type=SUBJECT_TYPE, subject_id=str(debtor.pk))
        chosen = sorted(p for p, action in current.items() if action == ConsentAction.GRANT)
    else:
        chosen = sorted(set(purposes))
        unknown = [p for p in chosen if p not in Purpose.values or p == Purpose.PROCESSING]
        if unknown:
            raise ValidationError({"purposes": f"Not a consent purpose: {', '.join(unknown)}."})
    with transaction.atomic():
        _withdraw(workspace, debtor, chosen, actor)
        reason = (
            f"Consent withdrawn: {', '.join(Purpose(p).label.lower() for p in chosen)}."
            if chosen
            else "No consent was on record to withdraw."
        )
        return privacy_request_transition(request=request, to=RequestStatus.FULFILLED, actor=actor, reason=reason)


def rectification_apply(*, request: PrivacyRequest, changes: Mapping[str, Any], actor: Actor) -> PrivacyRequest:
    """Apply the reviewed corrections through the debtors' service and tell everyone
    the data was disclosed to (GDPR Art. 19); the request is fulfilled."""
    workspace, debtor = _ready(request, RequestType.RECTIFICATION)
    if not changes:
        raise ValidationError({"changes": "Enter at least one correction."})
    unknown = set(changes) - {*UPDATABLE, "date_of_birth"}
    if unknown:
        raise ValidationError({name: "This field cannot be corrected here." for name in sorted(unknown)})
    with transaction.atomic():
        debtor_update(debtor=debtor, actor=actor, for_request=request.pk, **dict(changes))
        fields = sorted(changes)
        told = recipients_tell(workspace=workspace, debtor=debtor, request=request, fields=fields, actor=actor)
        audit_record(
            action=actions.PRIVACY_REQUEST_RECTIFIED,
            workspace=workspace,
            obj=request,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"fields": fields, "recipients": len(told)},
        )
        return privacy_request_transition(
            request=request,
            to=RequestStatus.FULFILLED,
            actor=actor,
            reason=f"Corrected: {', '.join(fields)}. Told {len(told)} recipients of the data (GDPR Art. 19).",
        )


def recipients_tell(
    *, workspace: Workspace, debtor: Debtor, request: PrivacyRequest, fields: list[str], actor: Actor = None
) -> list[str]:
    """Tell each recipient of the person's data that it was corrected: the clients
    that placed their debts (their members by email) and every recipient in the
    disclosure records (no address is kept for them: the line on the timeline is the
    to-do). Returns the recipients' names."""
    debts = list(
        Debt.objects.for_workspace(workspace).filter(debtor_id=debtor.pk).select_related("client").order_by("reference")
    )
    what = ", ".join(f.replace("_", " ") for f in fields)
    told: list[str] = []
    emailed = 0
    for client in {d.client_id: d.client for d in debts}.values():
        emails = sorted(
            {
                m.user.email
                for m in Membership.objects.for_workspace(workspace).filter(client=client).select_related("user")
                if m.user.email
            }
        )
        refs = [d.reference for d in debts if d.client_id == client.pk]
        if emails:
            emailed += len(emails)
            subject = f"{workspace.name}: a debtor's details were corrected (debts {', '.join(refs)})"
            body = (
                f"At the debtor's request ({request.reference}), these details of the debtor of your debts "
                f"{', '.join(refs)} were corrected on {timezone.localdate():%Y-%m-%d}: {what}.\n\n"
                "Please update your own records (GDPR Art. 19); the corrected details are in CollectPro.\n"
            )
            transaction.on_commit(
                partial(send_mail, subject=subject, message=body, from_email=None, recipient_list=emails)
            )
        for debt in debts:
            if debt.client_id == client.pk:
                debt_event(
                    debt,
                    "privacy.rectification",
                    f"Correction ({what}) told to the client {client.name}" + (" by email" if emails else ""),
                    obj=request,
                    actor=actor,
                )
        told.append(client.name)
    recipients = sorted(
        set(
            Disclosure.objects.for_workspace(workspace)
            .filter(debtor_id=debtor.pk)
            .values_list("recipient_type", "recipient_name")
        )
    )
    for recipient_type, name in recipients:
        for debt in debts:
            debt_event(
                debt,
                "privacy.rectification",
                f"Correction ({what}) to be told to {name} ({recipient_type.replace('_', ' ')}): no address on file",
                obj=request,
                actor=actor,
            )
        told.append(name)
    audit_record(
        action=actions.PRIVACY_REQUEST_RECIPIENTS_TOLD,
        workspace=workspace,
        obj=request,
        actor_user_id=getattr(actor_user(actor), "pk", None),
        metadata={"recipients": len(told), "emails": emailed, "fields": fields},
    )
    return told
