"""Debts, the moves their status may make, and the other parties to a debt."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from accounts.models import Client
from debtors.models.debtors import COLLECTION_PURPOSE, Debtor
from kernel.models import TenantModel, workspace_key_unindexed
from kernel.privacy.registry import FINANCIAL_RECORDS, PD, Basis, Category, Erasure, personal_data

# The financial facts about a person (what they owe, paid and agreed to pay) are in
# their access copy (GDPR Art. 15) and are the books: erasure keeps them.
BOOKS_KEPT = "accounting and tax record keeping: erasure keeps the books"
BOOKS_RECIPIENTS = ("the creditor who placed the debt", "auditors")


def book_fact(basis: str = Basis.CONTRACT) -> PD:
    """A financial fact about the person that erasure keeps with the books."""
    return PD(Category.FINANCIAL, basis, FINANCIAL_RECORDS, Erasure.KEEP_UNTIL, keep_law=BOOKS_KEPT)


class DebtStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    PROMISE = "promise", "Promise to pay"
    PAYMENT_PLAN = "payment_plan", "Payment plan"
    DISPUTED = "disputed", "Disputed"
    ON_HOLD = "on_hold", "On hold"
    PAID = "paid", "Paid"
    SETTLED = "settled", "Settled"
    WRITTEN_OFF = "written_off", "Written off"
    RECALLED = "recalled", "Recalled"
    CLOSED = "closed", "Closed"


S = DebtStatus
# The only moves a debt may make. One place; services, API and UI all read it.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.ACTIVE, S.DISPUTED, S.ON_HOLD, S.RECALLED, S.CLOSED, S.PAID}),
    S.ACTIVE: frozenset(
        {S.PROMISE, S.PAYMENT_PLAN, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.WRITTEN_OFF, S.RECALLED, S.CLOSED}
    ),
    S.PROMISE: frozenset({S.ACTIVE, S.PAYMENT_PLAN, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.RECALLED}),
    S.PAYMENT_PLAN: frozenset({S.ACTIVE, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.RECALLED}),
    # A rejected dispute resumes where collection stood (a promise or plan included).
    S.DISPUTED: frozenset({S.ACTIVE, S.PROMISE, S.PAYMENT_PLAN, S.ON_HOLD, S.CLOSED, S.RECALLED, S.WRITTEN_OFF}),
    S.ON_HOLD: frozenset({S.ACTIVE, S.DISPUTED, S.RECALLED, S.CLOSED, S.WRITTEN_OFF}),
    S.PAID: frozenset({S.ACTIVE, S.CLOSED}),  # ACTIVE again after a refund or chargeback
    S.SETTLED: frozenset({S.ACTIVE, S.CLOSED}),
    S.WRITTEN_OFF: frozenset({S.ACTIVE, S.CLOSED}),
    S.RECALLED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Statuses in which nobody should be collecting.
NOT_COLLECTABLE = frozenset({S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.WRITTEN_OFF, S.RECALLED, S.CLOSED})


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=BOOKS_RECIPIENTS,
    fields={
        name: book_fact()
        for name in (
            "reference",
            "currency",
            "original_amount_minor",
            "balance_minor",
            "status",
            "opened_on",
            "due_date",
            "charge_off_date",
            "last_payment_at",
            "created_at",  # when the debt was placed with the agency
        )
    },
)
class Debt(TenantModel):
    # Indexes here are few on purpose: each one is written for every placed debt.
    # Workspace, client and agent lookups use the composite indexes in Meta.
    workspace = workspace_key_unindexed()
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="debts", db_index=False)
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="debts")
    reference = models.CharField(max_length=64, help_text="Unique per client")
    original_creditor = models.CharField(max_length=200, blank=True, default="")
    product = models.CharField(max_length=100, blank=True, default="")
    currency = models.CharField(max_length=3)
    original_amount_minor = models.BigIntegerField()
    # Cached sum of the ledger, written only in the same transaction as an entry
    # (debtors.services.ledger). tests/debtors/test_ledger.py checks it never drifts.
    balance_minor = models.BigIntegerField(default=0)
    opened_on = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    charge_off_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DebtStatus.choices, default=DebtStatus.NEW)
    status_before_hold = models.CharField(max_length=16, blank=True, default="")
    assigned_agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    priority_score = models.IntegerField(default=0)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    # Under a legal hold (litigation, regulator, insolvency…): not contacted, not
    # purged, not erased (the retention app places and lifts holds).
    legal_hold = models.BooleanField(default=False, db_default=False)
    last_payment_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                # reference before client: the same index serves search by reference.
                fields=["workspace", "reference", "client"],
                name="debt_unique_reference_per_client",
            )
        ]
        indexes = [
            # The work queue's default order (keyset pagination walks these).
            models.Index(fields=["workspace", "-priority_score", "-balance_minor", "-id"], name="debt_queue_priority"),
            models.Index(
                fields=["workspace", "status", "-priority_score", "-balance_minor", "-id"], name="debt_queue_status"
            ),
            models.Index(
                fields=["workspace", "assigned_agent", "-priority_score", "-balance_minor", "-id"],
                name="debt_queue_agent",
            ),
            models.Index(fields=["workspace", "-balance_minor", "-id"], name="debt_queue_balance"),
            models.Index(fields=["workspace", "client", "status"]),
            models.Index(fields=["workspace", "due_date"]),
        ]

    def __str__(self) -> str:
        return f"Debt {self.reference}"


class PartyRole(models.TextChoices):
    PRIMARY = "primary", "Primary debtor"
    CO_DEBTOR = "co_debtor", "Co-debtor"
    GUARANTOR = "guarantor", "Guarantor"


class DebtParty(TenantModel):
    """Co-debtors and guarantors linked to a debt (the primary debtor is Debt.debtor)."""

    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="parties")
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=PartyRole.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["debt", "debtor"], name="debt_party_unique")]
