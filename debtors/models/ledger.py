"""The ledger: every amount that changed what a debt owes, append-only."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from debtors.models.debts import BOOKS_RECIPIENTS, Debt, book_fact
from kernel.models import TenantModel, workspace_key_unindexed
from kernel.privacy.registry import FINANCIAL_RECORDS, PD, Basis, Category, Erasure, personal_data


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    INTEREST = "interest", "Interest"
    FEE = "fee", "Fee"
    PAYMENT = "payment", "Payment"
    ADJUSTMENT = "adjustment", "Adjustment"
    REFUND = "refund", "Refund"
    REVERSAL = "reversal", "Reversal"


@personal_data(
    subject_type="debtor",
    subject="debt__debtor_id",
    purpose="Keeping the books of each debt",
    recipients=BOOKS_RECIPIENTS,
    fields={
        # What was charged, paid, adjusted or refunded, when, how and with which reference.
        **{
            name: book_fact(Basis.LEGAL_OBLIGATION)
            for name in ("kind", "amount_minor", "currency", "effective_on", "posted_at", "method", "reference")
        },
        # Free text an agent types (why a balance was adjusted or an entry reversed), so it
        # may name the person. The ledger is append-only (the database refuses UPDATE and
        # DELETE), so erasure keeps it with the books and the statement says so.
        "memo": PD(
            Category.FINANCIAL,
            Basis.LEGAL_OBLIGATION,
            FINANCIAL_RECORDS,
            Erasure.KEEP_UNTIL,
            keep_law="accounting and tax record keeping: erasure keeps the books (the ledger is append-only)",
        ),
    },
)
class LedgerEntry(TenantModel):
    """Append-only. ``amount_minor`` is signed: positive raises what is owed (charge,
    interest, fee, refund of a payment), negative lowers it (payment). A correction
    is a reversal entry pointing at the entry it cancels; nothing is ever updated."""

    workspace = workspace_key_unindexed()
    debt = models.ForeignKey(Debt, on_delete=models.PROTECT, related_name="entries", db_index=False)
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    effective_on = models.DateField()
    posted_at = models.DateTimeField(default=dj_timezone.now)
    method = models.CharField(max_length=32, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    # A provider's id (e.g. Stripe payment intent): unique, so a payment posts once.
    external_id = models.CharField(max_length=100, null=True, blank=True)
    # At most one reversal per entry (constraint below, on the few rows that reverse).
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", db_index=False
    )
    memo = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    rls_append_only = True
    # Only the books' purge removes entries (debtors.services.books, through
    # kernel.tenancy.rls.prune_append_only): never one younger than the shortest books
    # period of any profile (ZA: 5 years), and only of a finished debt no hold covers —
    # the database checks both, whatever the caller asks.
    rls_prune_column = "posted_at"
    rls_prune_min_days = 5 * 365
    rls_prune_guard = (
        "EXISTS (SELECT 1 FROM debtors_debt d WHERE d.id = t.debt_id AND NOT d.legal_hold "
        "AND d.status IN ('paid', 'settled', 'written_off', 'recalled', 'closed'))"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="ledger_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["reverses"], condition=models.Q(reverses__isnull=False), name="ledger_one_reversal_per_entry"
            ),
            models.CheckConstraint(condition=~models.Q(amount_minor=0), name="ledger_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["workspace", "debt", "posted_at"]),
            models.Index(fields=["workspace", "kind", "posted_at"]),
        ]
        verbose_name_plural = "ledger entries"
