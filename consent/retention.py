"""The consent app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

Proof of consent (``CONSENT_PROOF``) is kept for its period *after the consent ended*,
not after it was recorded. A record's consent ends when a later record of the same
person and purpose supersedes it (a withdrawal, or consent given again), or when the
person is gone (a debtor erased, an account deleted, a visitor's cookie expired). The
latest record of a person who is still there is their standing choice — a withdrawal
that must keep them uncontacted — and is never due.

Contact decisions (``ContactAttempt``) are collection records of their debt: they go
``COLLECTION_RECORDS`` after the last collection activity on a debt that is over.
Everything that belongs to a debtor or a debt leaves out what a legal hold covers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Cast, Coalesce, Greatest

from accounts.services import ERASED_EMAIL_DOMAIN
from audit import actions
from audit.models import AuditEvent
from consent.models import CONSENT_PROOF, ConsentRecord, ContactAttempt, PolicyAcceptance, VisitorConsent
from consent.public_views import YEAR as CHOICE_COOKIE_SECONDS
from debtors.models import Debt, Debtor, DebtStatus, Dispute, DisputeStatus
from debtors.services.holds import debtors_unheld, debts_unheld, workspace_held
from kernel.models import SubjectKey
from kernel.privacy.registry import COLLECTION_RECORDS
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, delete_due, delete_keys, register_store
from kernel.tenancy.rls import prune_append_only

# A debt whose collection is over: its collection records' period can run.
DEBT_OVER = (DebtStatus.PAID, DebtStatus.SETTLED, DebtStatus.WRITTEN_OFF, DebtStatus.RECALLED, DebtStatus.CLOSED)


def debts_over_since(*, workspace: Any, cutoff: datetime) -> QuerySet[Debt]:
    """Debts whose collection is over and whose last collection activity (created,
    changed, contacted, paid: the erasure's notion) is before ``cutoff``, without an
    open dispute and not covered by a legal hold. Communications reads it too."""
    debts = (
        Debt.objects.for_workspace(workspace)
        .filter(status__in=DEBT_OVER, created_at__lt=cutoff)
        .annotate(
            last_activity=Greatest(
                "created_at",
                "updated_at",
                Coalesce("last_contact_at", "created_at"),
                Coalesce("last_payment_at", "created_at"),
            )
        )
        .filter(last_activity__lt=cutoff)
        .exclude(
            Exists(Dispute.objects.for_workspace(workspace).filter(debt_id=OuterRef("pk"), status=DisputeStatus.OPEN))
        )
    )
    return debts_unheld(workspace=workspace, debts=debts)


# --- Consent records (per workspace, append-only) ------------------------------------------


def _held_subjects(workspace: Any) -> list[str]:
    """The debtors a legal hold covers, as consent records name them."""
    everyone = Debtor.objects.for_workspace(workspace)
    unheld = debtors_unheld(workspace=workspace, debtors=everyone).values("pk")
    return [str(pk) for pk in everyone.exclude(pk__in=unheld).values_list("pk", flat=True)]


def _records_due(ctx: PurgeContext) -> QuerySet[ConsentRecord]:
    workspace, cutoff = ctx.workspace, ctx.cutoff
    records = ConsentRecord.objects.for_workspace(workspace)
    if workspace_held(workspace=workspace):
        return records.none()
    superseded = records.filter(
        subject_type=OuterRef("subject_type"),
        subject_id=OuterRef("subject_id"),
        purpose=OuterRef("purpose"),
        created_at__lt=cutoff,
    ).filter(Q(created_at__gt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__gt=OuterRef("pk")))
    erased = SubjectKey.objects.for_workspace(workspace).filter(
        subject_type=OuterRef("subject_type"), subject_id=OuterRef("subject_id"), shredded_at__lt=cutoff
    )
    held = _held_subjects(workspace)
    return (
        records.filter(created_at__lt=cutoff)
        .filter(Exists(superseded) | Exists(erased))
        .exclude(subject_type="debtor", subject_id__in=held)
    )


def _records_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    # The only way to delete from the append-only consent ledger: a guarded function
    # that refuses records younger than a year and standing choices (consent/models.py).
    return prune_append_only(ConsentRecord, keys)


def _records_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = ConsentRecord.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"consent record {pk} ({action} {purpose}, {subject_type} {subject_id}), {when:%Y-%m-%d}"
        for pk, action, purpose, subject_type, subject_id, when in rows.values_list(
            "pk", "action", "purpose", "subject_type", "subject_id", "created_at"
        )
    ]


register_store(
    RetentionStore(
        name="consent.records",
        rule=CONSENT_PROOF,
        label="Proof of consent and contact preferences",
        covers=(
            "each grant or withdrawal with the notice shown, its source, IP address and browser; the latest "
            "record of a person still on file is their standing choice and stays"
        ),
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("consent.consentrecord",),
        trigger="the consent ended: superseded by a later choice, or the person erased",
        due=_records_due,
        apply=_records_apply,
        describe=_records_describe,
    )
)


# --- Contact decisions (per workspace) ------------------------------------------------------


def _attempts_due(ctx: PurgeContext) -> QuerySet[ContactAttempt]:
    debts = debts_over_since(workspace=ctx.workspace, cutoff=ctx.cutoff)
    return ContactAttempt.objects.for_workspace(ctx.workspace).filter(
        decided_at__lt=ctx.cutoff, debt_id__in=debts.values("pk")
    )


def _attempts_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    return delete_keys(ContactAttempt, keys, workspace=ctx.workspace)  # nothing points at a decision


def _attempts_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = ContactAttempt.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"contact decision {pk} ({channel}) on debt {ref}, {when:%Y-%m-%d}"
        for pk, channel, ref, when in rows.values_list("pk", "channel", "debt__reference", "decided_at")
    ]


register_store(
    RetentionStore(
        name="consent.contact_attempts",
        rule=COLLECTION_RECORDS,
        label="Contact rule decisions",
        covers="each decision of the contact rules (allowed or refused, and why: the debtor's local time and zone)",
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("consent.contactattempt",),
        trigger="the last collection activity on a debt that is over (paid, settled, written off, recalled, closed)",
        due=_attempts_due,
        apply=_attempts_apply,
        describe=_attempts_describe,
        drains=True,  # a deleted decision is no longer due: batches need not walk the key order
        # A real run deletes each batch in the database, in one statement from the same ``due``.
        purge_batch=lambda ctx, limit: delete_due(_attempts_due(ctx), limit),
    )
)


# --- Policy acceptances (global) ------------------------------------------------------------


def _acceptances_due(ctx: PurgeContext) -> QuerySet[PolicyAcceptance]:
    """Acceptances superseded (the user accepted a later version of the same policy)
    before the cutoff, and those of accounts deleted before it. An account's deletion
    is dated by its audit event; where the trail no longer holds it, by the
    acceptance itself."""
    cutoff = ctx.cutoff
    superseded = PolicyAcceptance.objects.filter(
        user_id=OuterRef("user_id"),
        policy__kind=OuterRef("policy__kind"),
        accepted_at__gt=OuterRef("accepted_at"),
        accepted_at__lt=cutoff,
    )
    deleted_at = AuditEvent.unscoped.filter(
        workspace__isnull=True,
        action=actions.USER_ACCOUNT_DELETED,
        object_type="accounts.user",
        object_id=Cast(OuterRef("user_id"), CharField()),
    ).values("created_at")[:1]
    return (
        PolicyAcceptance.objects.filter(accepted_at__lt=cutoff)
        .annotate(account_gone=Coalesce(Subquery(deleted_at), F("accepted_at")))
        .filter(Exists(superseded) | Q(user__email__endswith=f"@{ERASED_EMAIL_DOMAIN}", account_gone__lt=cutoff))
    )


def _acceptances_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = PolicyAcceptance.objects.filter(pk__in=keys).delete()
    return int(per_model.get(PolicyAcceptance._meta.label, 0))


def _acceptances_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = PolicyAcceptance.objects.filter(pk__in=keys).order_by("pk")
    return [
        f"acceptance {pk} of {policy} by account {user_id}, {when:%Y-%m-%d}"
        for pk, policy, user_id, when in rows.values_list("pk", "policy__version", "user_id", "accepted_at")
    ]


register_store(
    RetentionStore(
        name="consent.policy_acceptances",
        rule=CONSENT_PROOF,
        label="Policy acceptances by users",
        covers="which policy version a user accepted, when, from which IP address",
        action=Action.DELETE,
        scope=Scope.GLOBAL,
        models=("consent.policyacceptance",),
        trigger="a later version was accepted, or the account was deleted",
        due=_acceptances_due,
        apply=_acceptances_apply,
        describe=_acceptances_describe,
    )
)


# --- Cookie choices (global) ----------------------------------------------------------------


def _visitors_due(ctx: PurgeContext) -> QuerySet[VisitorConsent]:
    """A visitor's choice is in force until their next choice or until the cookie
    that carries it expires (a year after it was set)."""
    cutoff = ctx.cutoff
    superseded = VisitorConsent.objects.filter(
        visitor_id=OuterRef("visitor_id"), created_at__gt=OuterRef("created_at"), created_at__lt=cutoff
    )
    cookie_gone = cutoff - timedelta(seconds=CHOICE_COOKIE_SECONDS)
    return VisitorConsent.objects.filter(created_at__lt=cutoff).filter(
        Q(created_at__lt=cookie_gone) | Exists(superseded)
    )


def _visitors_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = VisitorConsent.objects.filter(pk__in=keys).delete()
    return int(per_model.get(VisitorConsent._meta.label, 0))


def _visitors_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = VisitorConsent.objects.filter(pk__in=keys).order_by("pk")
    return [f"cookie choice {pk}, {when:%Y-%m-%d}" for pk, when in rows.values_list("pk", "created_at")]


register_store(
    RetentionStore(
        name="consent.visitor_consents",
        rule=CONSENT_PROOF,
        label="Cookie choices of visitors",
        covers="a visitor's cookie choice with the notice shown, IP address and browser",
        action=Action.DELETE,
        scope=Scope.GLOBAL,
        models=("consent.visitorconsent",),
        trigger="the choice ended: the visitor chose again, or the cookie carrying it expired (1 year)",
        due=_visitors_due,
        apply=_visitors_apply,
        describe=_visitors_describe,
    )
)
