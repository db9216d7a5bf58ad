"""Input and output serializers, kept apart. Inputs validate shape only; the
services hold the rules."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from debtors.api.fields import MinorAsDecimal, MoneyField
from debtors.models import (
    Debt,
    DebtEvent,
    Debtor,
    Dispute,
    Document,
    LedgerEntry,
    Note,
    PaymentPlan,
    PromiseToPay,
    SettlementOffer,
)
from debtors.services.money import from_minor

# --- Debtors ---------------------------------------------------------------


class DebtorInput(serializers.Serializer[Any]):
    full_name = serializers.CharField(max_length=200)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    national_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    preferred_language = serializers.CharField(max_length=8, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=["person", "business"], default="person")


class DebtorUpdateInput(serializers.Serializer[Any]):
    full_name = serializers.CharField(max_length=200, required=False)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    address = serializers.CharField(max_length=500, required=False, allow_blank=True)
    national_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    external_ref = serializers.CharField(max_length=64, required=False, allow_blank=True)
    preferred_language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True)


class DebtorOutput(serializers.ModelSerializer[Debtor]):
    class Meta:
        model = Debtor
        fields = [
            "id",
            "kind",
            "full_name",
            "email",
            "phone",
            "address",
            "date_of_birth",
            "national_id",
            "external_ref",
            "preferred_language",
            "timezone",
            "is_minor",
            "created_at",
        ]


# --- Debts -----------------------------------------------------------------


class DebtInput(serializers.Serializer[Any]):
    debtor = serializers.UUIDField()
    client = serializers.UUIDField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Defaults to the key's client, or the workspace's own 'DIRECT' client",
    )
    reference = serializers.CharField(max_length=64)
    original_amount = MoneyField()
    currency = serializers.CharField(min_length=3, max_length=3)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    opened_on = serializers.DateField(required=False, allow_null=True, default=None)
    charge_off_date = serializers.DateField(required=False, allow_null=True, default=None)
    original_creditor = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    product = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class DebtOutput(serializers.ModelSerializer[Debt]):
    client_ref = serializers.CharField(source="client.reference", read_only=True)
    original_amount = MinorAsDecimal("original_amount_minor")
    balance = MinorAsDecimal("balance_minor")

    class Meta:
        model = Debt
        fields = [
            "id",
            "client",
            "client_ref",
            "debtor",
            "reference",
            "original_creditor",
            "product",
            "currency",
            "original_amount",
            "balance",
            "status",
            "due_date",
            "opened_on",
            "charge_off_date",
            "assigned_agent",
            "priority_score",
            "last_contact_at",
            "last_payment_at",
            "created_at",
        ]


class StatusInput(serializers.Serializer[Any]):
    status = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)


# --- Ledger ----------------------------------------------------------------


class LedgerEntryOutput(serializers.ModelSerializer[LedgerEntry]):
    amount = MinorAsDecimal("amount_minor")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "currency",
            "effective_on",
            "posted_at",
            "method",
            "reference",
            "external_id",
            "reverses",
            "memo",
        ]


class PaymentInput(serializers.Serializer[Any]):
    amount = MoneyField()
    paid_at = serializers.DateField(required=False, allow_null=True, default=None)
    method = serializers.CharField(max_length=32, required=False, default="manual")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class AdjustmentInput(serializers.Serializer[Any]):
    amount = MoneyField(allow_negative=True, help_text="Signed: negative lowers what is owed")
    memo = serializers.CharField(max_length=200)


class ReversalInput(serializers.Serializer[Any]):
    entry = serializers.UUIDField()
    memo = serializers.CharField(max_length=200)


# --- Plans, promises, offers, disputes ---------------------------------------


class PlanInput(serializers.Serializer[Any]):
    total = MoneyField()
    installments = serializers.IntegerField(min_value=1, max_value=120)
    frequency = serializers.ChoiceField(choices=["weekly", "biweekly", "monthly"])
    first_due = serializers.DateField()


class InstallmentOutput(serializers.Serializer[Any]):
    seq = serializers.IntegerField()
    due_on = serializers.DateField()
    amount = MinorAsDecimal("amount_minor", "plan.debt.currency")
    paid = MinorAsDecimal("paid_minor", "plan.debt.currency")
    status = serializers.CharField()


class PlanOutput(serializers.ModelSerializer[PaymentPlan]):
    total = MinorAsDecimal("total_minor", "debt.currency")
    installments = InstallmentOutput(many=True, read_only=True)

    class Meta:
        model = PaymentPlan
        fields = ["id", "total", "frequency", "status", "created_at", "installments"]


class PromiseInput(serializers.Serializer[Any]):
    amount = MoneyField()
    due_on = serializers.DateField()


class PromiseOutput(serializers.ModelSerializer[PromiseToPay]):
    amount = MinorAsDecimal("amount_minor", "debt.currency")

    class Meta:
        model = PromiseToPay
        fields = ["id", "amount", "due_on", "status", "made_at", "evaluated_at"]


class OfferInput(serializers.Serializer[Any]):
    amount = MoneyField()
    expires_at = serializers.DateTimeField()


class OfferOutput(serializers.ModelSerializer[SettlementOffer]):
    amount = MinorAsDecimal("amount_minor", "debt.currency")

    class Meta:
        model = SettlementOffer
        fields = ["id", "amount", "discount_bps", "expires_at", "status", "created_at"]


class DisputeInput(serializers.Serializer[Any]):
    reason = serializers.ChoiceField(choices=["not_mine", "wrong_amount", "paid", "identity_theft", "other"])
    details = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")


class DisputeResolveInput(serializers.Serializer[Any]):
    upheld = serializers.BooleanField()
    resolution = serializers.CharField(max_length=200)


class DisputeOutput(serializers.ModelSerializer[Dispute]):
    class Meta:
        model = Dispute
        fields = ["id", "reason", "details", "status", "source", "opened_at", "resolved_at", "resolution"]


# --- Notes, documents, communications, timeline -------------------------------


class NoteInput(serializers.Serializer[Any]):
    body = serializers.CharField(max_length=10_000)


class NoteOutput(serializers.ModelSerializer[Note]):
    class Meta:
        model = Note
        fields = ["id", "body", "created_at", "created_by"]


class DocumentInput(serializers.Serializer[Any]):
    file = serializers.FileField()


class DocumentOutput(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = ["id", "original_name", "content_type", "size_bytes", "sha256", "uploaded_at"]


class TimelineOutput(serializers.ModelSerializer[DebtEvent]):
    amount = serializers.SerializerMethodField(help_text="Decimal string in the debt's currency, or null")

    class Meta:
        model = DebtEvent
        fields = ["id", "kind", "summary", "amount", "object_type", "object_id", "created_at"]

    def get_amount(self, event: DebtEvent) -> str | None:
        if event.amount_minor is None:
            return None
        return from_minor(event.amount_minor, self.context["currency"])


# --- Placements --------------------------------------------------------------
