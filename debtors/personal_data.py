"""Most declarations live next to each model in debtors/models/ (@personal_data);
these say which personal-looking names are not personal data."""

from debtors.models import Document
from kernel.privacy.registry import declare_not_personal

declare_not_personal(Document, storage_name="a random file name on disk")

from debtors.models import SavedView  # noqa: E402

declare_not_personal(SavedView, name="a label the user gave their filter")

from debtors.models import Debt  # noqa: E402

declare_not_personal(Debt, original_creditor="a company that first lent the money")
