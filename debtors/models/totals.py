"""What is left of the books once even their period has passed: aggregates only.

``FINANCIAL_RECORDS`` keeps a finished debt's amounts, its ledger and what the person
agreed to pay after the person's own data is erased. When that period has passed too,
the debt and everything on it go (``debtors.services.books``), and their figures are
added here first: per client, currency and financial year, so a remittance, an audit
of a past year or a tax return still adds up. No row here is about a person.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from accounts.models import Client
from kernel.models import TenantModel, workspace_key_unindexed


class RetainedTotals(TenantModel):
    """The purged books of one client, in one currency, for one financial year.

    Ledger figures count the entries *posted* in the year; debt figures count the debts
    whose last entry fell in the year (the year their books closed). For every client
    and currency, the ledger of the debts still kept plus ``ledger_minor`` here equals
    the ledger before any purge (``tests/debtors/test_books_retention.py``)."""

    workspace = workspace_key_unindexed()  # the unique constraint's index starts with it
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="+", db_index=False)
    currency = models.CharField(max_length=3)
    year_end = models.DateField(help_text="The last day of the financial year")
    # Debts whose books closed in the year.
    debts = models.PositiveIntegerField(default=0)
    original_minor = models.BigIntegerField(default=0, help_text="What they were placed for")
    written_off_minor = models.BigIntegerField(default=0, help_text="The balance written off (status written off)")
    balance_minor = models.BigIntegerField(default=0, help_text="Their balance when purged, written-off ones included")
    statuses = models.JSONField(default=dict, help_text='Debts per final status: {"paid": 3, "settled": 1}')
    # Ledger entries posted in the year (signed sums, in minor units).
    entries = models.PositiveIntegerField(default=0)
    charged_minor = models.BigIntegerField(default=0, help_text="Charges")
    interest_minor = models.BigIntegerField(default=0)
    fees_minor = models.BigIntegerField(default=0)
    collected_minor = models.BigIntegerField(
        default=0, help_text="Money in: payments less refunds and reversals of either (positive)"
    )
    adjusted_minor = models.BigIntegerField(
        default=0, help_text="Adjustments and the reversals of charges, interest, fees and adjustments"
    )
    ledger_minor = models.BigIntegerField(
        default=0, help_text="The sum of every entry: charged + interest + fees + adjusted − collected"
    )
    # Arrangements of those debts (what the person agreed to pay).
    plans = models.PositiveIntegerField(default=0)
    promises = models.PositiveIntegerField(default=0)
    offers = models.PositiveIntegerField(default=0)
    offers_accepted_minor = models.BigIntegerField(default=0, help_text="What accepted settlement offers asked")
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "client", "currency", "year_end"], name="retained_totals_one_per_year"
            )
        ]
        verbose_name_plural = "retained totals"

    def __str__(self) -> str:
        return f"Retained totals {self.currency} to {self.year_end}"
