"""Debtor identity: validation and normalisation happen here, once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from accounts.types import Actor
from audit import actions
from audit.services import audit_record
from debtors.models import Debtor, DebtorContact, DebtorKind
from kernel.crypto.blind_index import normalise_phone
from kernel.crypto.fields import FieldErasure, field_erase
from kernel.errors import ActionRefused
from kernel.models import SubjectKey

ADULT_AGE = 18

ERASED_MESSAGE = "This person's data was erased; nothing more can be recorded about them."

# The default phone region for numbers written without +country code.
REGION_FOR_JURISDICTION = {"IN": "IN", "US": "US", "ZA": "ZA", "UK": "GB", "EU": "DE"}


@dataclass
class DebtorInput:
    full_name: str
    email: str = ""
    phone: str = ""
    address: str = ""
    date_of_birth: date | None = None
    national_id: str = ""
    external_ref: str = ""
    preferred_language: str = ""
    timezone: str = ""
    kind: str = DebtorKind.PERSON


class PersonErased(ActionRefused, ValidationError):
    """Nothing more may be recorded about a person whose data was erased (their data
    key is shredded: what is encrypted under it would be unreadable, or would land
    under the key kept for what the law retains). An ``ActionRefused`` for pages and
    the API; a ``ValidationError`` too, so callers that only know validation errors
    (the privacy desk's corrections) show it as one instead of failing."""

    def __init__(self, user_message: str = ERASED_MESSAGE):
        super().__init__(user_message)


def debtor_erased_at(*, workspace_id: Any, debtor_id: Any) -> datetime | None:
    """When the person's data was erased (their data key shredded), or None. One
    indexed lookup on the key row; nothing is decrypted."""
    return (
        SubjectKey.objects.for_workspace(workspace_id)
        .filter(subject_type="debtor", subject_id=str(debtor_id), shredded_at__isnull=False)
        .values_list("shredded_at", flat=True)
        .first()
    )


def debtor_is_erased(debtor: Debtor) -> bool:
    return debtor_erased_at(workspace_id=debtor.workspace_id, debtor_id=debtor.pk) is not None


def refuse_if_erased(*, workspace_id: Any, debtor_id: Any) -> None:
    """Raise ``PersonErased`` when the person was erased: every service that writes
    something encrypted under the person's key calls this first."""
    if debtor_erased_at(workspace_id=workspace_id, debtor_id=debtor_id) is not None:
        raise PersonErased()


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def clean_debtor_input(workspace: Workspace, data: DebtorInput, *, today: date | None = None) -> DebtorInput:
    """Normalise (E.164 phones, lower-case emails, trimmed text) or raise a
    ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    data.full_name = " ".join((data.full_name or "").split())
    if not data.full_name:
        errors["full_name"] = "A name is required."
    data.email = (data.email or "").strip().lower()
    if data.email:
        try:
            validate_email(data.email)
        except ValidationError:
            errors["email"] = "Enter a valid email address."
    data.phone = (data.phone or "").strip()
    if data.phone:
        try:
            data.phone = normalise_phone(data.phone, REGION_FOR_JURISDICTION.get(workspace.jurisdiction))
        except ValueError:
            errors["phone"] = "Enter a valid phone number (with country code, e.g. +91 98123 45678)."
    today = today or timezone.localdate()
    if data.date_of_birth and data.date_of_birth > today:
        errors["date_of_birth"] = "The date of birth is in the future."
    if data.kind not in DebtorKind.values:
        errors["kind"] = "Use person or business."
    data.national_id = (data.national_id or "").strip()
    data.external_ref = (data.external_ref or "").strip()[:64]
    if errors:
        raise ValidationError(errors)
    return data


def debtor_create(*, workspace: Workspace, data: DebtorInput, actor: Actor = None, today: date | None = None) -> Debtor:
    """Create a debtor. A person under 18 on entry is flagged ``is_minor`` and held
    out of collection until someone reviews it."""
    data = clean_debtor_input(workspace, data, today=today)
    today = today or timezone.localdate()
    is_minor = bool(
        data.kind == DebtorKind.PERSON and data.date_of_birth and age_on(data.date_of_birth, today) < ADULT_AGE
    )
    debtor = Debtor(
        workspace=workspace,
        kind=data.kind,
        full_name=data.full_name,
        email=data.email or None,
        phone=data.phone or None,
        address=data.address or None,
        date_of_birth=data.date_of_birth.isoformat() if data.date_of_birth else None,
        national_id=data.national_id or None,
        external_ref=data.external_ref,
        preferred_language=data.preferred_language[:8],
        timezone=data.timezone or profile_for(workspace.jurisdiction).default_timezone,
        is_minor=is_minor,
    )
    with transaction.atomic():
        debtor.save(force_insert=True)
        audit_record(
            action=actions.DEBTOR_CREATED,
            workspace=workspace,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"is_minor": is_minor},
        )
    return debtor


UPDATABLE = ("full_name", "email", "phone", "address", "national_id", "preferred_language", "timezone", "external_ref")


def debtor_update(*, debtor: Debtor, actor: Actor = None, for_request: object = None, **changes: Any) -> Debtor:
    """Change a debtor's details (normalised, blind indexes kept right, audited).

    A debtor whose processing is restricted (a rights request, GDPR Art. 18) is not
    changed, except to fulfil a rights request: ``for_request`` names it (a
    rectification). Nothing is changed about an erased person (``PersonErased``)."""
    unknown = set(changes) - set(UPDATABLE) - {"date_of_birth"}
    if unknown:
        raise ValidationError({k: "This field cannot be changed here." for k in unknown})
    refuse_if_erased(workspace_id=debtor.workspace_id, debtor_id=debtor.pk)
    if debtor.processing_restricted and for_request is None:
        raise ValidationError(
            {
                "debtor": "Processing of this debtor's data is restricted (a rights request): "
                "it is not changed except to fulfil a request."
            }
        )
    current = DebtorInput(
        full_name=changes.get("full_name", debtor.full_name),
        email=changes.get("email", debtor.email or ""),
        phone=changes.get("phone", debtor.phone or ""),
        address=changes.get("address", debtor.address or ""),
        national_id=changes.get("national_id", debtor.national_id or ""),
        external_ref=changes.get("external_ref", debtor.external_ref),
        preferred_language=changes.get("preferred_language", debtor.preferred_language),
        timezone=changes.get("timezone", debtor.timezone),
        date_of_birth=changes.get("date_of_birth"),
        kind=debtor.kind,
    )
    data = clean_debtor_input(debtor.workspace, current)
    changed = []
    for name in changes:
        value = getattr(data, name)
        if name == "date_of_birth":
            value = value.isoformat() if value else None
        elif name in ("email", "phone", "address", "national_id"):
            value = value or None
        if getattr(debtor, name) != value:
            setattr(debtor, name, value)
            changed.append(name)
    if not changed:
        return debtor
    with transaction.atomic():
        debtor.save()
        audit_record(
            action=actions.DEBTOR_UPDATED,
            workspace=debtor.workspace_id,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"fields": sorted(changed), **({"for_request": str(for_request)} if for_request else {})},
        )
    return debtor


def debtor_review_minor(*, debtor: Debtor, actor: Actor, confirmed_adult: bool) -> Debtor:
    """A reviewer clears (or keeps) the under-18 hold."""
    with transaction.atomic():
        debtor.minor_reviewed_at = timezone.now()
        debtor.is_minor = not confirmed_adult
        debtor.save(update_fields=["minor_reviewed_at", "is_minor"])
        audit_record(
            action=actions.DEBTOR_MINOR_REVIEWED,
            workspace=debtor.workspace_id,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"confirmed_adult": confirmed_adult},
        )
    return debtor


def debtor_restriction_set(*, debtor: Debtor, restricted: bool, actor: Actor = None, reason: str = "") -> Debtor:
    """Restrict (or lift the restriction of) processing of a debtor's data (GDPR Art.
    18): the contact rules refuse every contact and ``debtor_update`` refuses changes
    while it lasts. Setting what is already set writes nothing."""
    with transaction.atomic():
        debtor = Debtor.objects.for_workspace(debtor.workspace_id).select_for_update().get(pk=debtor.pk)
        if debtor.processing_restricted == restricted:
            return debtor
        debtor.processing_restricted = restricted
        debtor.processing_restricted_at = timezone.now() if restricted else None
        debtor.save(update_fields=["processing_restricted", "processing_restricted_at"])
        audit_record(
            action=actions.DEBTOR_RESTRICTION_CHANGED,
            workspace=debtor.workspace_id,
            obj=debtor,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"restricted": restricted, "reason": reason[:200]},
        )
    return debtor


def debtor_erase(
    *, debtor: Debtor, fields: Mapping[str, FieldErasure], actor: Actor = None, reason: str = ""
) -> list[str]:
    """Erase a debtor's own fields as privacy_requests decided from the registry
    (delete, pseudonymise, or keep under a retention key), blind indexes with them.
    Returns the columns written: none when the debtor is already as erasure wants, so
    repeating it changes nothing. Audited with the field names, never the values."""
    with transaction.atomic():
        debtor = Debtor.objects.for_workspace(debtor.workspace_id).select_for_update().get(pk=debtor.pk)
        changed: list[str] = []
        for name, erasure in fields.items():
            changed += field_erase(debtor, name, erasure)
        if changed:
            debtor.save(update_fields=sorted(set(changed)))
            audit_record(
                action=actions.PERSONAL_DATA_ERASED,
                workspace=debtor.workspace_id,
                obj=debtor,
                actor_user_id=getattr(actor, "pk", None),
                metadata={
                    "model": "debtors.debtor",
                    "changed": 1,
                    "fields": sorted(set(changed)),
                    "reason": reason[:200],
                },
            )
    return sorted(set(changed))


def debtor_contacts_erase(
    *,
    debtor: Debtor,
    delete: Iterable[Any] = (),
    fields: Mapping[Any, Mapping[str, FieldErasure]] | None = None,
    actor: Actor = None,
    reason: str = "",
) -> dict[str, int]:
    """Delete a debtor's further emails and phones (``delete``: row ids), or apply
    ``fields`` to the ones that are kept. Safe to repeat; audited with counts."""
    by_id = {str(k): v for k, v in (fields or {}).items()}
    counts = {"deleted": 0, "changed": 0}
    qs = DebtorContact.objects.for_workspace(debtor.workspace_id).filter(debtor_id=debtor.pk)
    with transaction.atomic():
        counts["deleted"] = qs.filter(pk__in=list(delete)).delete()[0]
        for contact in qs.filter(pk__in=list(by_id)).order_by("pk"):
            changed: list[str] = []
            for name, erasure in by_id[str(contact.pk)].items():
                changed += field_erase(contact, name, erasure)
            if changed:
                contact.save(update_fields=sorted(set(changed)))
                counts["changed"] += 1
        if counts["deleted"] or counts["changed"]:
            audit_record(
                action=actions.PERSONAL_DATA_ERASED,
                workspace=debtor.workspace_id,
                obj=debtor,
                actor_user_id=getattr(actor, "pk", None),
                metadata={"model": "debtors.debtorcontact", **counts, "reason": reason[:200]},
            )
    return counts
