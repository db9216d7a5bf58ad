from collectpro.privacy.registry import declare_not_personal
from consent.models import ContactPolicy, Disclosure, MessageTemplate, Sequence, SubProcessor

declare_not_personal(ContactPolicy, email_cap_7_days="a number: how many emails per 7 days")
declare_not_personal(
    MessageTemplate, name="a template's slug", body="template text with placeholders, no personal data"
)
declare_not_personal(Sequence, name="a cadence's name")
declare_not_personal(SubProcessor, name="a company's name")
declare_not_personal(Disclosure, recipient_name="the firm or agency receiving data (a business)")
