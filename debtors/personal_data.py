"""Most declarations live next to each model in debtors/models.py (@personal_data);
these say which personal-looking names are not personal data."""

from collectpro.privacy.registry import declare_not_personal
from debtors.models import Document, PlacementImport

declare_not_personal(Document, storage_name="a random file name on disk")
declare_not_personal(
    PlacementImport,
    file_name="the uploaded placement file's name",
    storage_name="a random file name on disk",
    rejects_storage_name="a random file name on disk",
)

from debtors.models import SavedView  # noqa: E402

declare_not_personal(SavedView, name="a label the user gave their filter")

from debtors.models import Communication  # noqa: E402

declare_not_personal(Communication, provider_message_id="the email/SMS provider's message id")
