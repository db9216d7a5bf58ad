"""Forms of the security alerts' pages. They check shape; the rules (a reason to
dismiss, thresholds from 1 to a million) live in ``incidents.alert_handling``."""

from __future__ import annotations

from typing import Any

from django import forms

from incidents.alert_handling import THRESHOLD_FIELDS, THRESHOLD_MAX
from incidents.models import AlertThresholds

STATUS_CHOICES = [("open", "Open"), ("dismissed", "Dismissed"), ("incident", "Turned into incidents"), ("all", "All")]


class DismissForm(forms.Form):
    reason = forms.CharField(
        required=False,  # the service says why it is required, in the register's words
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why this needs no incident",
        help_text="E.g. the month-end export the finance team runs. Kept with the alert; no person's details.",
    )


def _threshold(label: str, help_text: str) -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=THRESHOLD_MAX, label=label, help_text=help_text)


class ThresholdsForm(forms.Form):
    """The workspace's thresholds: an alert is raised at the number given, per window."""

    reveals_per_hour = _threshold(
        "Different people whose details one member sees in an hour",
        "Reveals on debt pages, previews and the API's detail reads by a signed-in member.",
    )
    exports_per_day = _threshold(
        "Exports or downloads of personal data by one member in a day",
        "Queue, audit, remittance and rights-request exports, documents and copies downloaded.",
    )
    export_rows_per_day = _threshold("Rows of personal data one member exports in a day", "All their exports together.")
    failed_logins_per_15_minutes = _threshold(
        "Failed sign-ins in 15 minutes, for one member or from one network",
        "Counted per member's account, and per network (IPv4 /24, IPv6 /48) against the members.",
    )
    not_found_per_hour = _threshold(
        "Not-found answers to one API key in an hour",
        "Many of them look like a key probing for other workspaces' records.",
    )
    new_network_alerts = forms.BooleanField(
        required=False,
        label="Alert when an API key is used from a network it has never used",
        help_text="A key's first network is its baseline.",
    )

    @classmethod
    def initial_for(cls, thresholds: AlertThresholds) -> dict[str, Any]:
        return {name: getattr(thresholds, name) for name in (*THRESHOLD_FIELDS, "new_network_alerts")}
