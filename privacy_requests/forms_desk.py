"""Forms of the privacy desk and of the debt page's privacy section. They check
shape (and, for dates, "not in the future" where the workspace is); the rules
live in the services."""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, time
from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import User, Workspace
from privacy_requests.models import CLOSED_STATUSES, TRANSITIONS, RequestChannel, RequestStatus, RequestType
from privacy_requests.selectors import DeskFilters

# What an agent can have received a request by (the public page, the API and
# account settings record their own channel).
AGENT_CHANNELS = [RequestChannel.PHONE, RequestChannel.EMAIL, RequestChannel.LETTER, RequestChannel.IN_PERSON]


# How identity was checked, as fixed labels: the label is the verification method,
# which goes into the request's timeline and into the append-only audit trail
# (services.privacy_request_verified / _create). Free text typed by staff ("caller
# gave DOB 17/05/1990") would put personal data where it can never be erased, so
# the forms offer only these choices and keep no free-text note.
IDENTITY_CHECKS: dict[str, str] = {
    "phone_dob": "checked by phone: date of birth",
    "phone_last4": "checked by phone: last 4 of phone",
    "phone_national_id": "checked by phone: last 4 of national id",
    "phone_debt_reference": "checked by phone: debt reference and date of birth",
    "email_on_file": "email from the address on file",
    "letter_signed": "signed letter matching the details on file",
    "document": "document seen: passport/ID card",
    "other": "other (ask the member who checked)",
}
IDENTITY_CHECK_CHOICES = [("", "Choose how"), *IDENTITY_CHECKS.items()]


def identity_check_field(label: str = "How identity was checked") -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=IDENTITY_CHECK_CHOICES,
        label=label,
        help_text="Choose the check made; do not write the answers anywhere (they would be kept in the audit trail).",
    )


def workspace_today(workspace: Workspace) -> date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(workspace.timezone)).date()


class LogRequestForm(forms.Form):
    """A request an agent received by phone, email, letter or in person."""

    type = forms.ChoiceField(choices=RequestType.choices, label="Request")
    channel = forms.ChoiceField(choices=[(c.value, c.label) for c in AGENT_CHANNELS], label="Received by")
    received_on = forms.DateField(label="Date received", widget=forms.DateInput(attrs={"type": "date"}))
    identity_check = identity_check_field()
    details = forms.CharField(
        required=False, max_length=10_000, label="Details", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "privacy_%s")  # the debt page has other forms with a "type" or "details"
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        today = workspace_today(workspace)
        self.fields["received_on"].initial = today
        self.fields["received_on"].widget.attrs["max"] = today.isoformat()

    def clean_identity_check(self) -> str:
        """The fixed label of the check chosen (what is recorded as the method)."""
        return IDENTITY_CHECKS[self.cleaned_data["identity_check"]]

    def clean_received_on(self) -> date:
        day: date = self.cleaned_data["received_on"]
        if day > workspace_today(self.workspace):
            raise forms.ValidationError("A request cannot be received in the future.")
        return day

    def received_at(self) -> datetime:
        """Now for a request received today; noon (where the workspace is) of an
        earlier day, which keeps its day, the one its deadline counts from."""
        day: date = self.cleaned_data["received_on"]
        if day == workspace_today(self.workspace):
            return timezone.now()
        return datetime.combine(day, time(12), tzinfo=zoneinfo.ZoneInfo(self.workspace.timezone))


STATUS_FILTERS = [
    ("open", "Open"),
    ("closed", "Closed"),
    ("all", "All"),
    *RequestStatus.choices,
]


class DeskFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=20, label="Reference")
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *RequestType.choices])
    status = forms.ChoiceField(required=False, choices=STATUS_FILTERS)
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *RequestChannel.choices])
    due = forms.ChoiceField(
        required=False, choices=[("", "Any deadline"), ("overdue", "Overdue"), ("soon", "Due within 7 days")]
    )

    def filters(self) -> DeskFilters:
        if not self.is_bound:
            return DeskFilters()
        if not self.is_valid():
            # An unknown value filters nothing rather than failing the page.
            data = {k: v for k, v in self.cleaned_data.items() if k not in self.errors}
        else:
            data = self.cleaned_data
        return DeskFilters(
            type=data.get("type") or "",
            status=data.get("status") or "open",
            channel=data.get("channel") or "",
            due=data.get("due") or "",
            reference=data.get("q") or "",
        )


class VerifyForm(forms.Form):
    """Identity confirmed by a member: how, from a fixed list (see IDENTITY_CHECKS)."""

    method = identity_check_field()

    def clean_method(self) -> str:
        return IDENTITY_CHECKS[self.cleaned_data["method"]]


class MatchSearchForm(forms.Form):
    """Find the debtor an unmatched request is about: one exact value."""

    q = forms.CharField(
        max_length=200,
        label="Email, phone, national id, full name or reference",
        help_text="Exact matches only (as the debtor search): e.g. the contact the requester gave.",
    )


class MatchForm(forms.Form):
    debtor = forms.UUIDField()


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Reason (the requester is told)", widget=forms.Textarea({"rows": 2}))


class CloseForm(ReasonForm):
    outcome = forms.ChoiceField(choices=[], label="Close as")
    field_order = ["outcome", "reason"]

    def __init__(self, *args: Any, status: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(status, frozenset())
        field = self.fields["outcome"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(s.value, s.label) for s in RequestStatus if s in CLOSED_STATUSES and s in allowed]


class AuthorisationReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(required=False, max_length=500, label="Reason (required to reject)")


class PlanForm(forms.Form):
    plan = forms.UUIDField()


class ErasurePlanForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, label="Note (e.g. a court order's reference)")


RECTIFIABLE = {
    "full_name": "Full name",
    "email": "Email",
    "phone": "Phone",
    "address": "Address",
    "date_of_birth": "Date of birth (YYYY-MM-DD)",
    "national_id": "National id",
}


class RectificationForm(forms.Form):
    """The corrections to apply, pre-filled with what the requester proposed; empty
    fields are left as they are."""

    full_name = forms.CharField(required=False, max_length=200, label=RECTIFIABLE["full_name"])
    email = forms.EmailField(required=False, label=RECTIFIABLE["email"])
    phone = forms.CharField(required=False, max_length=40, label=RECTIFIABLE["phone"])
    address = forms.CharField(required=False, max_length=500, label=RECTIFIABLE["address"])
    date_of_birth = forms.DateField(required=False, label=RECTIFIABLE["date_of_birth"])
    national_id = forms.CharField(required=False, max_length=64, label=RECTIFIABLE["national_id"])

    @staticmethod
    def proposed(text: str | None) -> dict[str, str]:
        """The requester's proposal (JSON ``{"field": "value"}``), only the fields we can correct."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: str(v) for k, v in data.items() if k in RECTIFIABLE and v not in (None, "")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not self.changes():
            raise forms.ValidationError("Enter at least one correction.")
        return data

    def changes(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class PrivacyContactForm(forms.Form):
    contact_user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Member to remind of deadlines",
        help_text="Gets the 7- and 2-day reminders and the overdue alerts (else the email below, else the owners).",
    )
    contact_name = forms.CharField(required=False, max_length=200, label="Name shown on the public pages")
    contact_email = forms.EmailField(required=False, label="Email shown on the public pages")
    contact_phone = forms.CharField(required=False, max_length=40, label="Phone shown on the public pages")
    grievance_period_days = forms.IntegerField(required=False, min_value=1, label="Published grievance period (days)")

    def __init__(self, *args: Any, workspace: Workspace, members: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        users = self.fields["contact_user"]
        assert isinstance(users, forms.ModelChoiceField)
        users.queryset = User.objects.filter(pk__in=[u.pk for u in members]).order_by("email")
        cap = profile_for(workspace.jurisdiction).rights_request_max_days
        if cap is None:
            del self.fields["grievance_period_days"]
        else:
            field = self.fields["grievance_period_days"]
            field.validators.append(MaxValueValidator(cap))
            field.widget.attrs["max"] = cap
            field.help_text = (
                f"India: the period you publish for answering requests, at most {cap} days; 30 if left empty."
            )
