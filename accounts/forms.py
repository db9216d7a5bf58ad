from __future__ import annotations

from typing import Any, cast

from django import forms

from accounts.jurisdictions import Jurisdiction
from accounts.models import TIMEZONE_CHOICES
from accounts.roles import GRANTABLE_BY, Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.AGENT)

    def __init__(self, *args: Any, granter_role: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        allowed = GRANTABLE_BY.get(granter_role, frozenset())
        cast(forms.ChoiceField, self.fields["role"]).choices = [(v, label) for v, label in Role.choices if v in allowed]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What will use this key?")
    client = forms.ChoiceField(
        required=False, label="Limit to client", help_text="Optional: the key sees only this creditor's debts."
    )

    def __init__(self, *args: Any, clients: Any = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["client"]).choices = [("", "— whole workspace —")] + [
            (str(c.pk), str(c)) for c in clients
        ]


class WorkspaceSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    jurisdiction = forms.ChoiceField(
        choices=Jurisdiction.choices, help_text="Drives contact hours, caps and deadlines."
    )
    currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", max_length=3, help_text="ISO 4217 code, e.g. INR")
    timezone = forms.ChoiceField(choices=TIMEZONE_CHOICES)
    require_mfa = forms.BooleanField(required=False, label="Require two-factor authentication for every member")

    def clean_currency(self) -> str:
        return str(self.cleaned_data["currency"]).upper()
