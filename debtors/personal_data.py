from collectpro.privacy.registry import declare_not_personal
from debtors.models import Client

declare_not_personal(Client, name="the creditor's business name")
