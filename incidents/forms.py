"""Forms of the breach register. They check shape; the rules (awareness not in the
future, a reason to close, a reason when late…) live in ``incidents.services``.

Every date and time is entered and shown in the workspace's time zone, and labelled
with it: an officer in Pune types Pune time, whatever the server's zone.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import Workspace
from incidents.models import INCIDENT_TRANSITIONS, Decision, Incident, IncidentStatus
from incidents.selectors import RegisterFilters
from incidents.services import SUBJECT_KINDS, IncidentInput
from kernel.privacy.registry import Category

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input read and shown in one time zone (the workspace's)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)

    def __init__(self, *, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        self.zone = zone
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value.astimezone(self.zone).strftime(LOCAL_FORMAT)
        return value

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(str(value).strip())
            except ValueError:
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=self.zone)
        return moment


def workspace_zone(workspace: Workspace) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(workspace.timezone)


def _zone_label(workspace: Workspace) -> str:
    return f"in {workspace.timezone} time"


class IncidentForm(forms.Form):
    """The facts of an incident (GDPR Art. 33(3), DPDP Rule 7, POPIA s22(3), CERT-In)."""

    title = forms.CharField(max_length=200, help_text="A short name the team will recognise, e.g. 'Laptop stolen'.")
    what_happened = forms.CharField(
        label="What happened",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Describe the event, the systems and the data involved. No person's details here: the people "
        "affected are linked to the incident by the finder, never named in this text.",
    )
    occurred_at = forms.DateTimeField(required=False, label="When it happened (or began)")
    occurred_until = forms.DateTimeField(required=False, label="Until (if it lasted)")
    aware_at = forms.DateTimeField(
        label="When the workspace became aware",
        help_text="The notification clocks start here. Correct it later and they restart from the new moment.",
    )
    data_categories = forms.MultipleChoiceField(
        required=False,
        choices=Category.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Kinds of personal data involved",
    )
    subject_kinds = forms.MultipleChoiceField(
        required=False,
        choices=list(SUBJECT_KINDS.items()),
        widget=forms.CheckboxSelectMultiple,
        label="Kinds of people involved",
    )
    approx_subjects = forms.IntegerField(
        required=False, min_value=0, label="Approximate number of people", help_text="Your best estimate; refine later."
    )
    approx_records = forms.IntegerField(required=False, min_value=0, label="Approximate number of records")
    likely_consequences = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Likely consequences for the people"
    )
    measures_taken = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Measures taken (to contain it, to help people)"
    )
    measures_proposed = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Measures proposed"
    )
    high_risk = forms.BooleanField(
        required=False,
        label="Likely to result in a high risk to the people",
        help_text="They must then be told without undue delay (GDPR Art. 34; DPDP tells everyone affected in any case).",
    )
    cert_in_listed = forms.BooleanField(
        required=False,
        label="One of the cyber incidents CERT-In lists",
        help_text="India: report to CERT-In within 6 hours of noticing (directions of 28 April 2022).",
    )
    data_unintelligible = forms.BooleanField(
        required=False,
        label="The data was unintelligible to whoever got it (e.g. encrypted, key not exposed)",
        help_text="GDPR Art. 34(3)(a): people need not be told then.",
    )

    def __init__(self, *args: Any, workspace: Workspace, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        zone = workspace_zone(workspace)
        label = _zone_label(workspace)
        for name in ("occurred_at", "occurred_until", "aware_at"):
            old = self.fields[name]
            self.fields[name] = LocalDateTimeField(
                zone=zone, required=old.required, label=f"{old.label} ({label})", help_text=old.help_text
            )
        if not self.is_bound and "aware_at" not in self.initial:
            self.initial["aware_at"] = now or timezone.now()

    @classmethod
    def initial_for(cls, incident: Incident) -> dict[str, Any]:
        return {name: getattr(incident, name) for name in cls.base_fields}

    def to_input(self) -> IncidentInput:
        d = self.cleaned_data
        return IncidentInput(
            title=d["title"],
            what_happened=d["what_happened"],
            aware_at=d["aware_at"],
            occurred_at=d.get("occurred_at"),
            occurred_until=d.get("occurred_until"),
            data_categories=list(d.get("data_categories") or []),
            subject_kinds=list(d.get("subject_kinds") or []),
            approx_subjects=d.get("approx_subjects"),
            approx_records=d.get("approx_records"),
            likely_consequences=d.get("likely_consequences") or "",
            measures_taken=d.get("measures_taken") or "",
            measures_proposed=d.get("measures_proposed") or "",
            high_risk=bool(d.get("high_risk")),
            cert_in_listed=bool(d.get("cert_in_listed")),
            data_unintelligible=bool(d.get("data_unintelligible")),
        )


STATUS_FILTERS = [("all", "All"), ("open", "Open"), ("closed", "Closed"), *IncidentStatus.choices]


class RegisterFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Reference or title")
    status = forms.ChoiceField(required=False, choices=STATUS_FILTERS)
    late = forms.BooleanField(required=False, label="Only with a late duty")

    def filters(self) -> RegisterFilters:
        if not self.is_bound:
            return RegisterFilters()
        self.is_valid()
        # An unknown value filters nothing rather than failing the page.
        data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        return RegisterFilters(
            status=data.get("status") or "all", late=bool(data.get("late")), q=(data.get("q") or "").strip()
        )


class TransitionForm(forms.Form):
    to = forms.ChoiceField(label="Move to")
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason",
        help_text="Required to close (e.g. contained and every party notified, or no breach after all).",
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "status_%s")
        super().__init__(*args, **kwargs)
        labels = dict(IncidentStatus.choices)
        allowed = INCIDENT_TRANSITIONS.get(incident.status, frozenset())
        order = list(IncidentStatus.values)
        self.fields["to"].choices = [(s, labels[s]) for s in sorted(allowed, key=order.index)]  # type: ignore[attr-defined]


class PhaseForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What is new",
        help_text="Information may be given in phases (GDPR Art. 33(4)). No person's details here.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "phase_%s")
        super().__init__(*args, **kwargs)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(Decision.NOTIFY, "Notify"), (Decision.NOT_REQUIRED, "Not required")],
        widget=forms.RadioSelect,
        label="Decision",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason",
        help_text="Kept on the register either way (GDPR Art. 33(5)).",
    )


class DoneForm(forms.Form):
    filing_reference = forms.CharField(
        required=False, max_length=200, label="Filing reference", help_text="The regulator's case number, if any."
    )
    done_at = forms.DateTimeField(required=False, label="Filed / sent at")
    late_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reasons for the delay",
        help_text="Required when filed after the deadline (GDPR Art. 33(1)).",
    )

    def __init__(self, *args: Any, workspace: Workspace, earliest: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.earliest = earliest
        self.fields["done_at"] = LocalDateTimeField(
            zone=workspace_zone(workspace),
            required=False,
            label=f"Filed / sent at ({_zone_label(workspace)})",
            help_text="Leave empty for now.",
        )

    def clean_done_at(self) -> datetime | None:
        moment: datetime | None = self.cleaned_data.get("done_at")
        if moment is not None and moment > timezone.now():
            raise forms.ValidationError("It cannot have been filed in the future.")
        if moment is not None and self.earliest is not None and moment < self.earliest:
            raise forms.ValidationError("It cannot have been filed before the workspace became aware of the incident.")
        return moment


class TargetHoursForm(forms.Form):
    authority_target_hours = forms.IntegerField(
        min_value=1,
        max_value=720,
        label="The workspace's own target, in hours from awareness",
        help_text="For duties the law gives no fixed hours ('without delay', 'as soon as reasonably possible'). "
        "It applies to incidents recorded from now on, and to an incident whose awareness is corrected.",
    )
