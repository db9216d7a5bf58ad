from collectpro.privacy.registry import declare_not_personal
from consent.models import ContactPolicy

declare_not_personal(ContactPolicy, email_cap_7_days="a number: how many emails per 7 days")
