"""Forms of the retention pages and of the debt page's holds section. They check
shape and find what a reference names; the rules (review dates, legal minimums)
live in the services, whose refusals come back onto the fields they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Client, Workspace
from accounts.selectors import clients_list
from debtors.models import Debt, HoldReason, HoldScope
from retention.schedules import MAX_DAYS
from retention.selectors import REVIEW_SOON_DAYS, HoldFilters

REASON_CHOICES = [("", "Choose a reason"), *HoldReason.choices]
DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def service_errors_onto(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form, next to the fields it names."""
    for name, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(name if name in form.fields else None, errors)


class _HoldDetails(forms.Form):
    reason = forms.ChoiceField(choices=REASON_CHOICES, label="Reason")
    case_reference = forms.CharField(
        required=False,
        max_length=200,
        label="Case reference",
        help_text="The court's case number or the regulator's reference. Not the person's name.",
    )
    review_on = forms.DateField(
        label="Review by", widget=DATE_INPUT, help_text="When someone must decide whether the hold is still needed."
    )


class HoldPlaceForm(_HoldDetails):
    """The holds page: a hold on a debt (by its reference), a client's portfolio or
    the whole workspace. Debtor holds are placed from the debt page."""

    SCOPES = [
        (HoldScope.DEBT.value, "A debt"),
        (HoldScope.PORTFOLIO.value, "A client's portfolio"),
        (HoldScope.WORKSPACE.value, "The whole workspace"),
    ]
    field_order = ["scope", "reference", "client", "reason", "case_reference", "review_on"]

    scope = forms.ChoiceField(choices=SCOPES, label="Hold", widget=forms.RadioSelect, initial=HoldScope.DEBT.value)
    reference = forms.CharField(required=False, max_length=64, label="Debt reference")
    client = forms.ModelChoiceField(
        queryset=Client.unscoped.none(),
        required=False,
        label="Client",
        empty_label="—",
        help_text="For a portfolio; for a debt, only when clients share a reference.",
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "place_%s")
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["client"].queryset = clients_list(workspace=workspace).order_by("name")  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scope = data.get("scope")
        client = data.get("client")
        if scope == HoldScope.PORTFOLIO and client is None:
            self.add_error("client", "Choose the client whose portfolio is held.")
        if scope == HoldScope.DEBT:
            data["debt"] = self._debt(str(data.get("reference") or "").strip(), client)
        return data

    def _debt(self, reference: str, client: Client | None) -> Debt | None:
        if not reference:
            self.add_error("reference", "Give the debt's reference.")
            return None
        found = Debt.objects.for_workspace(self.workspace).filter(reference=reference).select_related("client")
        if client is not None:
            found = found.filter(client=client)
        debts = list(found[:3])
        if not debts:
            self.add_error(
                "reference", f"No debt with the reference {reference!r}" + (" for this client." if client else ".")
            )
            return None
        if len(debts) > 1:
            names = ", ".join(sorted({d.client.name for d in debts}))
            self.add_error("client", f"Debts of several clients have this reference ({names}): choose the client.")
            return None
        return debts[0]

    def target(self) -> dict[str, Any]:
        d = self.cleaned_data
        if d["scope"] == HoldScope.DEBT:
            return {"debt": d["debt"]}
        if d["scope"] == HoldScope.PORTFOLIO:
            return {"client": d["client"]}
        return {}


class DebtHoldForm(_HoldDetails):
    """The debt page: a hold on this debt or on its debtor (all their debts)."""

    field_order = ["scope", "reason", "case_reference", "review_on"]

    scope = forms.ChoiceField(
        choices=[
            (HoldScope.DEBT.value, "This debt"),
            (HoldScope.DEBTOR.value, "The debtor: all their debts and their data"),
        ],
        label="Hold",
        widget=forms.RadioSelect,
        initial=HoldScope.DEBT.value,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "hold_%s")  # the debt page has other forms with a "reason"
        super().__init__(*args, **kwargs)


class HoldLiftForm(forms.Form):
    reason = forms.CharField(
        max_length=300,
        label="Why lift it",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E.g. the case closed on a date, the inquiry ended. Not the person's name.",
    )


class HoldReviewForm(forms.Form):
    review_on = forms.DateField(label="Next review by", widget=DATE_INPUT)


class HoldFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("active", "Active"), ("lifted", "Lifted"), ("all", "All")], required=False, initial="active"
    )
    scope = forms.ChoiceField(choices=[("", "Any"), *HoldScope.choices], required=False)
    reason = forms.ChoiceField(choices=[("", "Any"), *HoldReason.choices], required=False)
    review = forms.ChoiceField(
        choices=[("", "Any"), ("overdue", "Review overdue"), ("soon", f"Review within {REVIEW_SOON_DAYS} days")],
        required=False,
    )
    client = forms.ModelChoiceField(queryset=Client.unscoped.none(), required=False, empty_label="Any")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = clients_list(workspace=workspace).order_by("name")  # type: ignore[attr-defined]

    def filters(self) -> HoldFilters:
        if not self.is_bound or not self.is_valid():
            return HoldFilters()
        d = self.cleaned_data
        client = d.get("client")
        return HoldFilters(
            status=d.get("status") or "active",
            scope=d.get("scope") or "",
            reason=d.get("reason") or "",
            review=d.get("review") or "",
            client_id=client.pk if client else None,
        )


class PeriodForm(forms.Form):
    """The workspace's own period for one category (the service refuses one below
    a legal minimum, naming the law)."""

    category = forms.CharField(widget=forms.HiddenInput)
    days = forms.IntegerField(min_value=1, max_value=MAX_DAYS, label="Keep for (days)")
    reason = forms.CharField(
        max_length=300, label="Why", help_text="Shown on the schedule as this period's source (e.g. a contract clause)."
    )

    def __init__(self, *args: Any, category: str, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"period_{category.lower()}_%s")
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {"category": category, **kwargs["initial"]}
        super().__init__(*args, **kwargs)
