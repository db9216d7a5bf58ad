"""Registry statements for communications' models; the declarations of what is
personal live next to each model (communications/models.py)."""

from communications.models import Communication, MessageTemplate, Sequence
from kernel.privacy.registry import declare_not_personal

declare_not_personal(Communication, provider_message_id="the email/SMS provider's message id")
declare_not_personal(Communication, outcome="a code from a fixed list (no answer, promise…)")
declare_not_personal(
    MessageTemplate, name="a template's slug", body="template text with placeholders, no personal data"
)
declare_not_personal(Sequence, name="a cadence's name")
