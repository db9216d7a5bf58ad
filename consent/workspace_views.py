"""Consent pages inside a workspace: proof-of-consent export, contact rules settings."""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.jurisdictions import profile_for
from accounts.models import Membership, Workspace
from accounts.roles import can
from audit import actions
from audit.services import record_personal_data_access
from consent.models import ContactPolicy
from consent.services import consent_proof, contact_policy_update, proof_csv
from debtors.selectors import debtor_get, debts_visible_to
from kernel.tenancy.decorators import workspace_view


@workspace_view("workspace.view")
def consent_proof_export(
    request: HttpRequest, workspace: Workspace, membership: Membership, debtor_id: str
) -> HttpResponse:
    """A debtor's proof of consent as CSV, for members who can see one of their debts
    (client users: their client's debtors only)."""
    if can(membership, "debts.view_all") and membership.client_id is None:
        debtor = debtor_get(workspace=workspace, debtor_id=debtor_id)
    else:
        debt = (
            debts_visible_to(workspace=workspace, membership=membership)
            .select_related("debtor")
            .filter(debtor_id=debtor_id)
            .first()
        )
        if debt is None:
            raise Http404("No such debtor")
        debtor = debt.debtor
    rows = consent_proof(workspace=workspace, subject_type="debtor", subject_id=str(debtor.pk))
    record_personal_data_access(
        subject=debtor, fields=["consent records"], purpose="proof-of-consent export", kind=actions.PERSONAL_DATA_EXPORT
    )
    response = HttpResponse(proof_csv(rows), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="consent-proof-{debtor.pk}.csv"'
    return response


class ContactPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    blackout = forms.CharField(
        required=False,
        label="Blackout dates",
        help_text="One YYYY-MM-DD per line (the debtor's local calendar)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    class Meta:
        model = ContactPolicy
        fields = [
            "start_hour",
            "end_hour",
            "call_cap_7_days",
            "email_cap_7_days",
            "sms_cap_7_days",
            "whatsapp_cap_7_days",
            "allow_weekends",
        ]

    def clean_blackout(self) -> list[str]:
        out = []
        for line in (self.cleaned_data.get("blackout") or "").split():
            try:
                out.append(date.fromisoformat(line.strip()).isoformat())
            except ValueError:
                raise forms.ValidationError(f"{line!r} is not a date (YYYY-MM-DD).") from None
        return out

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        for f in ("start_hour", "end_hour"):
            v = data.get(f)
            if v is not None and not 0 <= int(v) <= 24:
                self.add_error(f, "Use an hour from 0 to 24.")
        return data


@workspace_view("workspace.view", write_perm="workspace.settings")
def contact_rules_settings(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The jurisdiction's numbers (with sources) and the workspace's stricter ones."""
    policy = ContactPolicy.objects.for_workspace(workspace).first() or ContactPolicy(workspace=workspace)
    form = ContactPolicyForm(
        request.POST or None, instance=policy, initial={"blackout": "\n".join(policy.blackout_dates or [])}
    )
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in ContactPolicyForm.Meta.fields}
        values["blackout_dates"] = form.cleaned_data["blackout"]
        contact_policy_update(workspace=workspace, values=values, changed_fields=form.changed_data)
        messages.success(request, "Contact rules saved. The stricter of these and the jurisdiction's apply.")
        return redirect("contact_rules", workspace_slug=workspace.slug)
    return render(
        request,
        "consent/contact_rules.html",
        {
            "form": form,
            "profile": profile_for(workspace.jurisdiction),
            "can_edit": can(membership, "workspace.settings"),
        },
        status=400 if form.errors else 200,
    )
