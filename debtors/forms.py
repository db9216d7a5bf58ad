from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.utils import timezone

from debtors.models import DebtStatus
from debtors.queue import ORDERINGS, QueueFilters


class QueueFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "Email, phone, national id, name, reference", "type": "search"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *DebtStatus.choices])
    client = forms.ChoiceField(required=False)
    agent = forms.ChoiceField(required=False)
    due_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    due_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    order = forms.ChoiceField(required=False, choices=[(k, v[1]) for k, v in ORDERINGS.items()], initial="priority")

    def __init__(self, *args: Any, clients: Any = (), agents: Any = (), show_agent: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["client"].choices = [("", "Any client")] + [(str(c.pk), c.name) for c in clients]  # type: ignore[attr-defined]
        agent_field = cast(forms.ChoiceField, self.fields["agent"])
        agent_field.choices = [("", "Anyone"), ("none", "Unassigned")] + [
            (str(m.user_id), m.user.email) for m in agents
        ]  # type: ignore[attr-defined]
        if not show_agent:
            del self.fields["agent"]

    def filters(self) -> QueueFilters:
        """The filters chosen, or none when the form is not valid (an invalid filter
        shows its error and the whole queue)."""
        if not self.is_valid():
            return QueueFilters()
        return QueueFilters(**{k: v for k, v in self.cleaned_data.items() if v not in (None, "")})


class PaymentForm(forms.Form):
    amount = forms.DecimalField(min_value=0, decimal_places=3, max_digits=14)
    paid_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(
        choices=[
            ("cash", "Cash"),
            ("bank_transfer", "Bank transfer"),
            ("upi", "UPI"),
            ("card", "Card"),
            ("cheque", "Cheque"),
        ]
    )
    reference = forms.CharField(required=False, max_length=100)


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000, label="Note")


class PromiseForm(forms.Form):
    amount = forms.DecimalField(min_value=0, decimal_places=3, max_digits=14)
    due_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), initial=lambda: timezone.localdate() + timedelta(days=7)
    )


class PlanForm(forms.Form):
    total = forms.DecimalField(min_value=0, decimal_places=3, max_digits=14)
    installments = forms.IntegerField(min_value=1, max_value=120, initial=3)
    frequency = forms.ChoiceField(choices=[("monthly", "Monthly"), ("biweekly", "Every 2 weeks"), ("weekly", "Weekly")])
    first_due = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), initial=lambda: timezone.localdate() + timedelta(days=7)
    )


class OfferForm(forms.Form):
    amount = forms.DecimalField(min_value=0, decimal_places=3, max_digits=14)
    expires_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), initial=lambda: timezone.localdate() + timedelta(days=14)
    )


class DisputeForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[
            ("not_mine", "Not my debt"),
            ("wrong_amount", "Wrong amount"),
            ("paid", "Already paid"),
            ("identity_theft", "Identity theft"),
            ("other", "Other"),
        ]
    )
    details = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


class ResolveDisputeForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("rejected", "Rejected — debt verified, resume"), ("upheld", "Upheld — close the debt")]
    )
    resolution = forms.CharField(max_length=200)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=DebtStatus.choices)
    reason = forms.CharField(required=False, max_length=100)


class AssignForm(forms.Form):
    agent = forms.ChoiceField(required=False)
