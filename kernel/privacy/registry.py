"""The personal-data registry: every field that holds personal data, declared once.

Declare next to the model::

    @personal_data(
        subject_type="debtor", subject="self", purpose=Purpose.COLLECTION,
        recipients=("creditor (client)", "payment processor"),
        fields={
            "email": PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS,
                        Erasure.DELETE, sensitive=True, searchable=True),
        },
    )
    class Debtor(TenantModel): ...

A system check (``collectpro.E001``) fails when a field that looks personal — or any
``EncryptedField`` — has no declaration. The same declarations drive the record of
processing (``record_of_processing``), subject lookups (``rows_for_subject``: the hook
for access, erasure and retention), and later the rights-request exports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models

from kernel.models import TenantModel

_M = TypeVar("_M", bound=type[models.Model])


class Category(models.TextChoices):
    IDENTITY = "identity", "Identity"
    CONTACT = "contact", "Contact details"
    FINANCIAL = "financial", "Financial"
    GOVERNMENT_ID = "government_id", "Government identifier"
    COMMUNICATION = "communication", "Communications content"
    TECHNICAL = "technical", "Technical (IP, device)"
    AUTHENTICATION = "authentication", "Authentication"
    DEMOGRAPHIC = "demographic", "Demographic"


class Basis(models.TextChoices):
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"
    CONSENT = "consent", "Consent"


class Erasure(models.TextChoices):
    DELETE = "delete", "Delete"
    PSEUDONYMISE = "pseudonymise", "Pseudonymise"
    KEEP_UNTIL = "keep_until", "Keep until retention ends"


@dataclass(frozen=True)
class Retention:
    """How long data is kept: ``days`` after ``trigger``, and the rule behind it."""

    days: int
    trigger: str
    source: str
    # The category's name on the retention schedule and in purge receipts
    # (``purge_expired --category NAME``); rules sharing a name are one category.
    name: str = ""

    def __str__(self) -> str:
        years, rem = divmod(self.days, 365)
        if rem == 0 and years:
            span = f"{years} year" + ("s" if years != 1 else "")
        else:
            span = f"{self.days} day" + ("s" if self.days != 1 else "")
        return f"{span} after {self.trigger} ({self.source})"


# Retention rules used across the apps (referenced by name so they're defined once).
ACCOUNT_LIFETIME = Retention(30, "the account is closed", "contract; deletion on request", name="ACCOUNT_LIFETIME")
COLLECTION_RECORDS = Retention(
    3 * 365,
    "the last collection activity",
    "12 CFR 1006.100; stricter local rules apply per profile",
    name="COLLECTION_RECORDS",
)
FINANCIAL_RECORDS = Retention(
    8 * 365, "the end of the financial year", "tax and accounting law", name="FINANCIAL_RECORDS"
)
SECURITY_LOGS = Retention(365, "the event", "DPDP Rules 2025 r.8(3) (≥1 year); security", name="SECURITY_LOGS")


@dataclass(frozen=True)
class PD:
    """One personal-data field."""

    category: str
    basis: str
    retention: Retention
    erasure: str
    sensitive: bool = False
    searchable: bool = False
    keep_law: str = ""

    def __post_init__(self) -> None:
        if self.erasure == Erasure.KEEP_UNTIL and not self.keep_law:
            raise ValueError("keep-until erasure needs the law that requires keeping (keep_law)")


@dataclass(frozen=True)
class Declaration:
    model: type[models.Model]
    subject_type: str
    subject: str  # "self" or the attname pointing at the subject ("debtor_id", "user_id")
    purpose: str
    recipients: tuple[str, ...]
    fields: dict[str, PD]
    not_personal: dict[str, str] = field(default_factory=dict)


_REGISTRY: dict[str, Declaration] = {}
_NOT_PERSONAL: dict[str, dict[str, str]] = {}


def personal_data(
    *,
    subject_type: str,
    subject: str = "self",
    purpose: str,
    recipients: tuple[str, ...] = (),
    fields: dict[str, PD],
    not_personal: dict[str, str] | None = None,
) -> Callable[[_M], _M]:
    """Class decorator declaring a model's personal-data fields."""

    def register(model: _M) -> _M:
        label = model._meta.label_lower
        _REGISTRY[label] = Declaration(
            model, subject_type, subject, purpose, tuple(recipients), dict(fields), dict(not_personal or {})
        )
        return model

    return register


def declare(model: type[models.Model], **kwargs: Any) -> None:
    """Declare a model we don't own (a third-party app's)."""
    personal_data(**kwargs)(model)


def declare_not_personal(model: type[models.Model], **reasons: str) -> None:
    """Say that fields whose names look personal are not (e.g. a company's name)."""
    _NOT_PERSONAL.setdefault(model._meta.label_lower, {}).update(reasons)


def declarations() -> list[Declaration]:
    return sorted(_REGISTRY.values(), key=lambda d: d.model._meta.label_lower)


def declaration_for(model: type[models.Model]) -> Declaration | None:
    return _REGISTRY.get(model._meta.label_lower)


def not_personal_for(model: type[models.Model]) -> dict[str, str]:
    decl = _REGISTRY.get(model._meta.label_lower)
    return {**_NOT_PERSONAL.get(model._meta.label_lower, {}), **(decl.not_personal if decl else {})}


@dataclass(frozen=True)
class ProcessingRow:
    model: str
    field: str
    subject_type: str
    category: str
    purpose: str
    basis: str
    retention: str
    erasure: str
    recipients: str
    encrypted: bool
    searchable: bool


def record_of_processing() -> list[ProcessingRow]:
    """GDPR Art. 30-style record, one row per declared field."""
    rows = []
    for decl in declarations():
        for name, pd in decl.fields.items():
            erasure = Erasure(pd.erasure).label + (f" ({pd.keep_law})" if pd.keep_law else "")
            rows.append(
                ProcessingRow(
                    model=str(decl.model._meta.verbose_name).title(),
                    field=name,
                    subject_type=decl.subject_type,
                    category=Category(pd.category).label,
                    purpose=decl.purpose,
                    basis=Basis(pd.basis).label,
                    retention=str(pd.retention),
                    erasure=erasure,
                    recipients=", ".join(decl.recipients) or "—",
                    encrypted=pd.sensitive,
                    searchable=pd.searchable,
                )
            )
    return rows


@dataclass(frozen=True)
class SubjectRow:
    model: type[models.Model]
    instance: models.Model
    fields: dict[str, PD]


def rows_for_subject(*, subject_type: str, subject_id: object, workspace: Any = None) -> Iterator[SubjectRow]:
    """Every row and declared field held about one person, across apps.

    Tenant models are read within ``workspace``; others (users) without it."""
    for decl in declarations():
        if decl.subject_type != subject_type:
            continue
        lookup = "pk" if decl.subject == "self" else decl.subject
        model = decl.model
        if issubclass(model, TenantModel):
            if workspace is None:
                continue
            qs = model.objects.for_workspace(workspace)
        else:
            qs = model._default_manager.all()
        for instance in qs.filter(**{lookup: subject_id}).order_by("pk"):
            yield SubjectRow(model, instance, decl.fields)
