from consent.models import ContactPolicy, Disclosure, SubProcessor
from kernel.privacy.registry import declare_not_personal

declare_not_personal(ContactPolicy, email_cap_7_days="a number: how many emails per 7 days")
declare_not_personal(SubProcessor, name="a company's name")
declare_not_personal(Disclosure, recipient_name="the firm or agency receiving data (a business)")

from consent.models import ContactAttempt  # noqa: E402
from kernel.privacy.registry import COLLECTION_RECORDS, PD, Basis, Category, Erasure, declare  # noqa: E402

# Refusal reasons quote the debtor's local time and zone: proof that a contact was
# not made, kept as long as the collection records.
declare(
    ContactAttempt,
    subject_type="debtor",
    subject="debt__debtor_id",
    purpose="Proof that contact rules were applied",
    fields={
        "reasons": PD(
            Category.CONTACT,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.KEEP_UNTIL,
            keep_law="12 CFR 1006.100 record keeping",
        ),
    },
)
