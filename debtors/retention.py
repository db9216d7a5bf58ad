"""The debtors app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

``debtors.books``: the books of a finished debt outlive the person's erasure for
``FINANCIAL_RECORDS`` (from the end of the financial year of its last entry); then the
debt and everything on it go, and only per-client, per-year totals stay
(``debtors.services.books``). The person's own data (the debtor, their contacts,
notes, documents, disputes) is erased earlier by the person's erasure
(``privacy_requests``), which keeps these books.
"""

from debtors.services.books import books_describe, books_due, books_purge
from kernel.privacy.registry import FINANCIAL_RECORDS
from kernel.retention import Action, RetentionStore, register_store

register_store(
    RetentionStore(
        name="debtors.books",
        rule=FINANCIAL_RECORDS,
        label="The books of finished debts",
        covers=(
            "a finished debt of an erased person: its amounts, its ledger, what the person agreed to pay "
            "(plans and installments, promises, settlement offers) and its timeline; totals per client, "
            "currency and financial year are kept"
        ),
        action=Action.KEEP_AGGREGATES,
        trigger="the end of the financial year of the debt's last ledger entry",
        models=(
            "debtors.debt",
            "debtors.ledgerentry",
            "debtors.promisetopay",
            "debtors.paymentplan",
            "debtors.installment",
            "debtors.settlementoffer",
        ),
        due=books_due,
        apply=books_purge,
        describe=books_describe,
        drains=True,  # purged books are no longer due: batches need not walk the key order
        batch_size=200,  # debts, with their ledgers and everything on them: well under a second
        order=200,  # after the person's erasure, which the books wait for
    )
)
