"""The debtors app's models, one module per concept. Every public name is
re-exported here, so ``from debtors.models import Debt`` works as it always has;
the models keep the app label ``debtors`` (their migrations are unchanged)."""

from debtors.models.arrangements import (
    Installment,
    InstallmentAllocation,
    InstallmentStatus,
    OfferStatus,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
    SettlementOffer,
)
from debtors.models.debtors import (
    COLLECTION_PURPOSE,
    COLLECTION_RECIPIENTS,
    ContactKind,
    Debtor,
    DebtorContact,
    DebtorKind,
)
from debtors.models.debts import ALLOWED_TRANSITIONS, NOT_COLLECTABLE, Debt, DebtParty, DebtStatus, PartyRole
from debtors.models.holds import HoldReason, HoldScope, LegalHold
from debtors.models.ledger import EntryKind, LedgerEntry
from debtors.models.records import DebtEvent, Dispute, DisputeStatus, Document, Note, SavedView
from debtors.models.totals import RetainedTotals

__all__ = [
    "ALLOWED_TRANSITIONS",
    "COLLECTION_PURPOSE",
    "COLLECTION_RECIPIENTS",
    "NOT_COLLECTABLE",
    "ContactKind",
    "Debt",
    "DebtEvent",
    "DebtParty",
    "DebtStatus",
    "Debtor",
    "DebtorContact",
    "DebtorKind",
    "Dispute",
    "DisputeStatus",
    "Document",
    "EntryKind",
    "HoldReason",
    "HoldScope",
    "Installment",
    "InstallmentAllocation",
    "InstallmentStatus",
    "LedgerEntry",
    "LegalHold",
    "Note",
    "OfferStatus",
    "PartyRole",
    "PaymentPlan",
    "PlanStatus",
    "PromiseStatus",
    "PromiseToPay",
    "RetainedTotals",
    "SavedView",
    "SettlementOffer",
]
