"""What every authority report draws on (incidents/reports.py), read once per report:
the incident and its phased updates, the frozen list's counts, the notices' progress,
the other filings, the alerts that proposed it, the workspace and its privacy contact;
each as the text a report field shows (dates in the workspace's zone)."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import datetime

from accounts.models import Workspace
from incidents.clocks import clock_state
from incidents.contact import contact_point
from incidents.models import AffectedPerson, AlertKind, Decision, Duty, Incident, IncidentUpdate, Party
from incidents.notices import notices_progress, people_duty
from incidents.services import SUBJECT_KINDS
from kernel.privacy.registry import Category

# The type of incident on CERT-In's form that an alert suggests.
ALERT_TYPE = {
    AlertKind.BULK_REVEAL: "Data breach (unusual bulk access to personal data)",
    AlertKind.BULK_EXPORT: "Data leak (unusual bulk export of personal data)",
    AlertKind.FAILED_LOGINS: "Unauthorised access to IT systems (burst of failed sign-ins)",
    AlertKind.NEW_NETWORK: "Unauthorised access to IT systems or data (API key used from a new network)",
    AlertKind.CROSS_TENANT: "Targeted scanning or probing (many not-found answers to one API key)",
}


class ReportFacts:
    """What every report draws on, read once."""

    def __init__(self, incident: Incident, duty: Duty, now: datetime) -> None:
        self.incident, self.duty, self.now = incident, duty, now
        self.workspace = Workspace.objects.get(pk=incident.workspace_id)
        self.zone = zoneinfo.ZoneInfo(self.workspace.timezone)
        self.contact = contact_point(self.workspace)
        workspace_id = incident.workspace_id
        updates = IncidentUpdate.objects.for_workspace(workspace_id).filter(incident=incident).order_by("at")
        self.phases = [u for u in updates if u.kind == "phase"]
        people = AffectedPerson.objects.for_workspace(workspace_id).filter(incident=incident)
        self.frozen = people.count() if incident.affected_frozen_at else None
        by_category: Counter[str] = Counter()
        if self.frozen:
            for categories in people.values_list("categories", flat=True).iterator(chunk_size=2000):
                by_category.update(categories or [])
        self.by_category = by_category
        self.progress = notices_progress(incident=incident)
        self.people = people_duty(incident)
        self.others = list(
            Duty.objects.for_workspace(workspace_id)
            .filter(incident=incident, done_at__isnull=False)
            .exclude(pk=duty.pk)
            .exclude(party=Party.PEOPLE)
            .order_by("done_at")
        )
        self.alerts = list(incident.alerts.all())  # type: ignore[attr-defined]

    def at(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return f"{moment.astimezone(self.zone):%Y-%m-%d %H:%M} ({self.workspace.timezone})"

    def categories(self) -> str:
        labels = dict(Category.choices)
        return ", ".join(str(labels.get(c, c)) for c in self.incident.data_categories)

    def kinds(self) -> str:
        return ", ".join(SUBJECT_KINDS.get(k, k) for k in self.incident.subject_kinds)

    def when(self) -> str:
        start = self.at(self.incident.occurred_at)
        end = self.at(self.incident.occurred_until)
        return f"{start} to {end}" if start and end else start

    def subjects(self) -> str:
        parts = []
        if self.incident.approx_subjects is not None:
            parts.append(f"about {self.incident.approx_subjects}")
        if self.frozen is not None:
            labels = dict(Category.choices)
            split = ", ".join(f"{labels.get(c, c)}: {n}" for c, n in self.by_category.most_common())
            parts.append(
                f"{self.frozen} identified and listed on {self.at(self.incident.affected_frozen_at)}"
                + (f" (by data involved — {split})" if split else "")
            )
        return "; ".join(parts)

    def records(self) -> str:
        return f"about {self.incident.approx_records}" if self.incident.approx_records is not None else ""

    def history(self) -> str:
        return "\n".join(f"{self.at(u.at)}: {u.text}" for u in self.phases)

    def discovered(self) -> str:
        if not self.alerts:
            return ""
        return "; ".join(
            f"security alert '{a.get_kind_display()}' ({a.count} in the window {self.at(a.window_start)} to "
            f"{self.at(a.window_end)}, threshold {a.threshold})"
            for a in self.alerts
        )

    def measures(self) -> str:
        return self.incident.measures_taken.strip()

    def people_told(self) -> str:
        duty = self.people
        if duty is None:
            return "No duty to tell them under this profile (not judged high risk, or the data was unintelligible)."
        if duty.decision == Decision.NOT_REQUIRED:
            return f"Not told: {duty.decision_reason}"
        p = self.progress
        if duty.done_at is not None:
            return (
                f"Told on {self.at(duty.done_at)}: {p.sent} by email or SMS; {p.no_contact} with no contact on file"
                + (f"; {p.failed} could not be sent" if p.failed else "")
                + "."
            )
        if p.started:
            return f"Being told: {p.sent} notified, {p.pending} to go, {p.no_contact} with no contact on file."
        if duty.decision == Decision.NOTIFY:
            return f"To be told (decided: {duty.decision_reason})."
        return "Not decided yet."

    def timing(self) -> str:
        clock = clock_state(self.duty, self.now)
        deadline = self.at(clock.deadline) if clock.deadline else "none in law"
        kind = "deadline in law" if clock.fixed else "the workspace's own target (the law sets no hours)"
        filed = f"; filed {self.at(self.duty.done_at)}" if self.duty.done_at else ""
        return f"Aware {self.at(self.incident.aware_at)}; {kind}: {deadline}{filed}."

    def delay(self) -> str:
        """The reasons for a delay, or "" (to fill in) when late without them."""
        clock = clock_state(self.duty, self.now)
        if self.duty.late_reason:
            return self.duty.late_reason
        if clock.state == "late" or clock.late_filing:
            return ""
        return "Not late."

    def other_filings(self) -> str:
        return "; ".join(
            f"{d.label}: {self.at(d.done_at)}" + (f" (reference {d.filing_reference})" if d.filing_reference else "")
            for d in self.others
        )

    def cert_in_type(self) -> str:
        return "; ".join(dict.fromkeys(ALERT_TYPE[AlertKind(a.kind)] for a in self.alerts if a.kind in ALERT_TYPE))
