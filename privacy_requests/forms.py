"""Forms of the public rights-request pages (English and Hindi) and of the account
settings' "download my data" / "delete my account". They check shape only; the
rules are in intake.py and verification.py."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from privacy_requests.intake import authorisation_read
from privacy_requests.models import RequestStatus, RequestType
from privacy_requests.verification import CODE_DIGITS, Knowledge, parse_date_of_birth

StrOrPromise = str | Promise

# Plain language for people, not lawyers; the legal names are in models.RequestType.
TYPE_LABELS: dict[str, StrOrPromise] = {
    RequestType.ACCESS: _("See the data you hold about me"),
    RequestType.PORTABILITY: _("Get my data in a file I can take elsewhere"),
    RequestType.RECTIFICATION: _("Correct my data"),
    RequestType.ERASURE: _("Delete my data"),
    RequestType.RESTRICTION: _("Pause the use of my data"),
    RequestType.OBJECTION: _("Object to the use of my data, or stop contacting me"),
    RequestType.WITHDRAWAL: _("Withdraw my consent"),
    RequestType.NOMINATION: _("Name someone to act for me"),
    RequestType.GRIEVANCE: _("Make a complaint"),
}
TYPE_HELP: dict[str, StrOrPromise] = {
    RequestType.ACCESS: _("We send you a copy of everything we hold about you and explain how we use it."),
    RequestType.PORTABILITY: _("A machine-readable copy (JSON and CSV) of the data you gave us."),
    RequestType.RECTIFICATION: _("Tell us below what is wrong and what it should be."),
    RequestType.ERASURE: _("We delete what the law does not require us to keep, and tell you what we keep and why."),
    RequestType.RESTRICTION: _("We keep your data but stop using it while a question about it is settled."),
    RequestType.OBJECTION: _("We stop using your data for that purpose unless the law requires otherwise."),
    RequestType.WITHDRAWAL: _("We stop what you had agreed to, from now on."),
    RequestType.NOMINATION: _(
        "India: someone who may use your rights if you die or cannot act. Give their name below."
    ),
    RequestType.GRIEVANCE: _("Tell us what went wrong; our privacy contact answers you."),
}
STATUS_LABELS: dict[str, StrOrPromise] = {
    RequestStatus.RECEIVED: _("Received"),
    RequestStatus.AWAITING_VERIFICATION: _("Waiting for you to confirm it is you"),
    RequestStatus.VERIFIED: _("Identity confirmed"),
    RequestStatus.IN_PROGRESS: _("In progress"),
    RequestStatus.FULFILLED: _("Done"),
    RequestStatus.PARTLY_FULFILLED: _("Partly done"),
    RequestStatus.REFUSED: _("Refused"),
    RequestStatus.WITHDRAWN: _("Withdrawn"),
}
KNOWLEDGE_LABELS: dict[str, StrOrPromise] = {
    Knowledge.DATE_OF_BIRTH: _("My date of birth"),
    Knowledge.PHONE_LAST4: _("The last 4 digits of my phone number"),
    Knowledge.NATIONAL_ID_LAST4: _("The last 4 characters of my national ID number"),
    Knowledge.DEBT_REFERENCE: _("The reference of one of my accounts with you"),
}


class RequestNewForm(forms.Form):
    type = forms.ChoiceField(
        label=_("What would you like us to do?"),
        choices=[(value, label) for value, label in TYPE_LABELS.items()],
        widget=forms.RadioSelect,
    )
    name = forms.CharField(label=_("Full name"), max_length=200)
    contact = forms.CharField(
        label=_("Email or phone number where we can reach you"),
        max_length=200,
        help_text=_("We use it only to answer this request."),
    )
    identifier = forms.CharField(
        label=_("How can we find you?"),
        max_length=200,
        help_text=_(
            "A reference from our messages or letters, or an email address or phone number we may have for you."
        ),
    )
    details = forms.CharField(
        label=_("Details (optional)"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )
    is_representative = forms.BooleanField(label=_("I am making this request for someone else"), required=False)
    representative_name = forms.CharField(
        label=_("Your name (as their representative)"), max_length=200, required=False
    )
    authorisation = forms.FileField(
        label=_("Their signed authorisation (PDF, PNG or JPEG, at most 10 MB)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )

    def clean_contact(self) -> str:
        value = str(self.cleaned_data["contact"]).strip()
        if "@" in value:
            try:
                validate_email(value)
            except ValidationError:
                raise ValidationError(_("Enter a valid email address or phone number.")) from None
        elif len(re.sub(r"\D", "", value)) < 7 or re.search(r"[^\d\s+().-]", value):
            raise ValidationError(_("Enter a valid email address or phone number."))
        return value

    def clean_authorisation(self) -> Any:
        upload = self.cleaned_data.get("authorisation")
        if not upload:
            return None
        try:
            return authorisation_read(upload)
        except ValidationError as exc:
            raise ValidationError(_("Only PDF, PNG or JPEG files of at most 10 MB are accepted.")) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("is_representative"):
            if not str(data.get("representative_name") or "").strip():
                self.add_error("representative_name", _("Give your name as their representative."))
            if not data.get("authorisation") and "authorisation" not in self.errors:
                self.add_error("authorisation", _("Attach their signed authorisation."))
        else:
            data["representative_name"] = ""
            data["authorisation"] = None
        return data


class VerifyForm(forms.Form):
    code = forms.CharField(
        label=_("The 6-digit code we sent you"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    knowledge = forms.ChoiceField(
        label=_("And one thing only you would know"),
        choices=[(value, label) for value, label in KNOWLEDGE_LABELS.items()],
        widget=forms.RadioSelect,
    )
    answer = forms.CharField(
        label=_("Your answer"),
        max_length=64,
        help_text=_("Date of birth as YYYY-MM-DD or DD/MM/YYYY."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", str(self.cleaned_data["code"]))
        if not re.fullmatch(rf"\d{{{CODE_DIGITS}}}", code):
            raise ValidationError(_("The code is 6 digits."))
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, answer = data.get("knowledge"), str(data.get("answer") or "").strip()
        if kind and answer:
            if kind == Knowledge.DATE_OF_BIRTH and parse_date_of_birth(answer) is None:
                self.add_error("answer", _("Enter the date as YYYY-MM-DD or DD/MM/YYYY."))
            elif kind in (Knowledge.PHONE_LAST4, Knowledge.NATIONAL_ID_LAST4) and not re.fullmatch(
                r"[0-9A-Za-z]{4}", answer
            ):
                self.add_error("answer", _("Enter exactly 4 characters."))
        return data


class AccountDownloadForm(forms.Form):
    workspace = forms.ChoiceField(label="Workspace whose privacy contact handles the request")

    def __init__(self, *args: Any, workspaces: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workspace"].choices = workspaces  # type: ignore[attr-defined]


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm = forms.BooleanField(label="I understand that my account will be deleted and this cannot be undone")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        if not self.user.check_password(password):
            raise ValidationError("That is not your password.")
        return password
