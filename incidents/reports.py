"""The report an officer files with an authority, pre-filled from the register: one per
authority duty (``Duty.code``), with the fields that regulator asks for.

- ``EU-SA``, ``UK-ICO``: GDPR / UK GDPR Art. 33(3) (nature, categories and approximate
  numbers of people and records, the contact point, likely consequences, measures) and
  Art. 33(1), (4) (the reasons for a delay, information in phases), under the headings
  of the ICO's breach report form.
- ``IN-DPB``: the intimation to the Data Protection Board, DPDP Rules 2025 Rule 7(2)(a)
  (nature, extent, timing and location, likely impact); ``IN-DPB-REPORT``: the detailed
  report within 72 hours, Rule 7(2)(b)(i)–(vi).
- ``CERT-IN``: the fields of CERT-In's incident reporting form (time of occurrence, time
  noticed, type of incident, affected systems, symptoms, actions taken…).
- ``ZA-IR``: the Information Regulator's form SCN1 (POPIA s22).

Filled from the incident, its phased updates, the frozen list of people (counts only),
the notices' progress, the workspace and its privacy contact. A field CollectPro knows
nothing about is left empty ("to fill in") with a hint: the officer completes it on the
regulator's own form. Reads only; no person's details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.http import Http404
from django.utils import timezone

from accounts.jurisdictions import Jurisdiction
from accounts.models import Workspace
from incidents.models import Duty, Incident
from incidents.report_facts import ReportFacts


@dataclass(frozen=True)
class ReportField:
    label: str
    value: str  # "" when CollectPro does not know: the officer fills it in
    hint: str = ""


@dataclass(frozen=True)
class ReportSection:
    heading: str
    fields: tuple[ReportField, ...]


@dataclass(frozen=True)
class Authority:
    name: str
    title: str
    how_to_file: str


AUTHORITIES: dict[str, Authority] = {
    "EU-SA": Authority(
        "Lead supervisory authority",
        "Notification of a personal data breach (GDPR Art. 33)",
        "File with the lead supervisory authority through its own breach form or portal (check its current "
        "instructions); copy the fields below.",
    ),
    "UK-ICO": Authority(
        "Information Commissioner's Office",
        "Personal data breach report (UK GDPR Art. 33)",
        "File through the ICO's online breach report form (ico.org.uk, 'Report a breach') or by phone on "
        "0303 123 1113 (check the ICO's current instructions).",
    ),
    "IN-DPB": Authority(
        "Data Protection Board of India",
        "Intimation of a personal data breach (DPDP Rules 2025, Rule 7(2)(a))",
        "Intimate the Board without delay through the channel it publishes (check its current instructions); "
        "the detailed report follows within 72 hours.",
    ),
    "IN-DPB-REPORT": Authority(
        "Data Protection Board of India",
        "Detailed report on a personal data breach (DPDP Rules 2025, Rule 7(2)(b))",
        "Send to the Board within 72 hours of becoming aware (or the longer period it allowed), through the "
        "channel it publishes.",
    ),
    "CERT-IN": Authority(
        "CERT-In (Indian Computer Emergency Response Team)",
        "Cyber security incident report (CERT-In directions of 28 April 2022)",
        "Report within 6 hours of noticing, by email to incident@cert-in.org.in or through the incident "
        "reporting form on cert-in.org.in (check CERT-In's current instructions).",
    ),
    "ZA-IR": Authority(
        "Information Regulator (South Africa)",
        "Security compromise notification — form SCN1 (POPIA s22)",
        "Submit form SCN1 to the Information Regulator as soon as reasonably possible after discovery, "
        "through the channel it publishes (check its current instructions).",
    ),
}
REPORT_CODES = frozenset(AUTHORITIES)

# CERT-In directions, Annexure I (abridged): what its form's "type of incident" lists.
CERT_IN_TYPES = (
    "targeted scanning or probing; compromise of critical systems or information; unauthorised access to IT "
    "systems or data; website defacement or intrusion; malicious code (virus, worm, ransomware…); attacks on "
    "servers or network devices; identity theft, spoofing or phishing; DoS/DDoS; attacks on applications; data "
    "breach; data leak; attacks on digital payment systems; malicious or fake mobile apps; unauthorised access "
    "to social media accounts; attacks on cloud systems; … (see the directions' Annexure I)"
)


@dataclass(frozen=True)
class AuthorityReport:
    code: str
    authority: Authority
    incident: Incident
    duty: Duty
    workspace: Workspace
    sections: tuple[ReportSection, ...]
    generated_at: datetime

    @property
    def filename(self) -> str:
        return f"{self.incident.reference}-{self.code}.pdf"

    @property
    def to_fill(self) -> int:
        return sum(1 for s in self.sections for f in s.fields if not f.value)


F = ReportField
FILL = "Not in CollectPro: fill in on the form."


def _organisation(f: ReportFacts, *, role_hint: str) -> ReportSection:
    return ReportSection(
        "About the organisation",
        (
            F("Organisation", f.workspace.name),
            F("Jurisdiction", str(Jurisdiction(f.workspace.jurisdiction).label)),
            F("Registration / licence number", "", FILL),
            F("Role in this processing", "", role_hint),
            F(
                "Contact point (DPO, information or grievance officer)",
                f.contact.line if f.contact else "",
                "" if f.contact else "Set the workspace's privacy contact.",
            ),
        ),
    )


def _gdpr(f: ReportFacts) -> tuple[ReportSection, ...]:
    i = f.incident
    return (
        _organisation(f, role_hint="Controller, or processor for a client (then the client files)."),
        ReportSection(
            "Initial report or follow-up (Art. 33(4))",
            (
                F("Report", "Follow-up: information in phases" if f.phases else "Initial report"),
                F("Information added in phases", f.history(), "None yet."),
                F("Reference", i.reference),
            ),
        ),
        ReportSection(
            "About the breach (Art. 33(3)(a))",
            (
                F("What happened", i.what_happened),
                F("When it happened", f.when(), "Not known yet: say so."),
                F("When you became aware", f.at(i.aware_at)),
                F("How you found out", f.discovered(), FILL),
                F("Status", i.get_status_display()),
            ),
        ),
        ReportSection(
            "Personal data placed at risk (Art. 33(3)(a))",
            (
                F("Categories of personal data", f.categories(), "Not known yet: say so."),
                F("Categories of data subjects", f.kinds(), "Not known yet: say so."),
                F("Approximate number of data subjects", f.subjects(), "Not known yet: give an estimate."),
                F("Approximate number of personal data records", f.records(), "Not known yet: give an estimate."),
            ),
        ),
        ReportSection(
            "Likely consequences (Art. 33(3)(c))",
            (
                F("Likely consequences", i.likely_consequences),
                F("High risk to people", "Yes" if i.high_risk else "Not judged high risk"),
                F("Data unintelligible to whoever got it (Art. 34(3)(a))", "Yes" if i.data_unintelligible else "No"),
            ),
        ),
        ReportSection(
            "Containment and recovery (Art. 33(3)(d))",
            (F("Measures taken", f.measures()), F("Measures proposed", i.measures_proposed.strip())),
        ),
        ReportSection(
            "Taking action",
            (
                F("Have you told the data subjects? (Art. 34)", f.people_told()),
                F("Other organisations told", f.other_filings(), "Police, other regulators, clients…"),
            ),
        ),
        ReportSection(
            "Timing (Art. 33(1))",
            (
                F("Awareness and deadline", f.timing()),
                F("Reasons for the delay, if after 72 hours", f.delay(), "The deadline passed: give the reasons."),
            ),
        ),
    )


def _dpb_intimation(f: ReportFacts) -> tuple[ReportSection, ...]:
    i = f.incident
    return (
        _organisation(f, role_hint="Data Fiduciary, or Data Processor for a client (then the client intimates)."),
        ReportSection(
            "Description of the breach (Rule 7(2)(a))",
            (
                F("Nature", i.what_happened),
                F("Extent: data involved", f.categories(), "Not known yet: say so."),
                F("Extent: Data Principals affected", f.subjects(), "Not known yet: give an estimate."),
                F("Extent: records affected", f.records(), "Not known yet: give an estimate."),
                F("Timing: when it occurred", f.when(), "Not known yet: say so."),
                F("Timing: when the Data Fiduciary became aware", f.at(i.aware_at)),
                F("Location of occurrence", "", "Where: which system, office, vendor or device."),
                F("Likely impact", i.likely_consequences),
            ),
        ),
        ReportSection("Timing", (F("Awareness and deadline", f.timing()), F("Reasons for any delay", f.delay()))),
    )


def _dpb_report(f: ReportFacts) -> tuple[ReportSection, ...]:
    i = f.incident
    return (
        _organisation(f, role_hint="Data Fiduciary, or Data Processor for a client (then the client reports)."),
        ReportSection(
            "(i) Updated and detailed description",
            (
                F("Nature", i.what_happened),
                F("Data involved", f.categories()),
                F("Data Principals affected", f.subjects()),
                F("Records affected", f.records()),
                F("When it occurred", f.when()),
                F("When the Data Fiduciary became aware", f.at(i.aware_at)),
                F("Location of occurrence", "", "Which system, office, vendor or device."),
                F("Updates since the intimation", f.history(), "None."),
            ),
        ),
        ReportSection(
            "(ii) Events, circumstances and reasons leading to the breach",
            (F("Broad facts", i.what_happened), F("How it was detected", f.discovered(), FILL)),
        ),
        ReportSection(
            "(iii) Measures implemented or proposed to mitigate the risk",
            (F("Implemented", f.measures()), F("Proposed", i.measures_proposed.strip())),
        ),
        ReportSection(
            "(iv) Findings regarding the person who caused the breach",
            (F("Findings", "", "What is known of who caused it (staff, vendor, outside attacker), if anything."),),
        ),
        ReportSection(
            "(v) Remedial measures to prevent recurrence",
            (F("Remedial measures", i.measures_proposed.strip(), "What changes so it does not happen again."),),
        ),
        ReportSection(
            "(vi) Intimations given to affected Data Principals (Rule 7(1))",
            (F("Data Principals told", f.people_told()),),
        ),
        ReportSection("Timing", (F("Awareness and deadline", f.timing()), F("Reasons for any delay", f.delay()))),
    )


def _cert_in(f: ReportFacts) -> tuple[ReportSection, ...]:
    i = f.incident
    return (
        ReportSection(
            "Reporting organisation",
            (
                F("Organisation", f.workspace.name),
                F("Contact (name, email, phone)", f.contact.line if f.contact else "", "The person reporting."),
                F("Sector", "Financial services (debt collection)"),
            ),
        ),
        ReportSection(
            "The incident",
            (
                F("Time of occurrence", f.when(), "Not known yet: say so."),
                F("Time the incident was noticed", f.at(i.aware_at)),
                F("Type of incident", f.cert_in_type(), f"Choose from: {CERT_IN_TYPES}"),
                F("Description", i.what_happened),
                F("Reference", i.reference),
            ),
        ),
        ReportSection(
            "Affected systems",
            (
                F("Affected systems / network (hostnames, IP addresses, OS, applications)", "", FILL),
                F("Location of the affected systems", "", FILL),
                F("Symptoms observed", f.discovered(), "What was seen (unusual traffic, files, sign-ins…)."),
                F("Relevant technical information (logs, indicators of compromise)", "", FILL),
            ),
        ),
        ReportSection(
            "Response",
            (
                F("Actions taken", f.measures()),
                F("Actions proposed", i.measures_proposed.strip()),
                F("Agencies or organisations informed", f.other_filings(), "Police, the Board, clients…"),
                F("Timing", f.timing()),
                F("Reasons for any delay", f.delay()),
            ),
        ),
    )


def _scn1(f: ReportFacts) -> tuple[ReportSection, ...]:
    i = f.incident
    return (
        ReportSection(
            "Part A — The responsible party",
            (
                F("Name of the responsible party", f.workspace.name),
                F("Registration number", "", FILL),
                F("Physical and postal address", "", FILL),
                F("Information officer (name and contact details)", f.contact.line if f.contact else ""),
                F("Operator (if the compromise happened at an operator)", "", "Name the operator, if any."),
            ),
        ),
        ReportSection(
            "Part B — The security compromise",
            (
                F("Date and time of the compromise", f.when(), "Not known yet: say so."),
                F("Date and time of discovery", f.at(i.aware_at)),
                F("How it was discovered", f.discovered(), FILL),
                F("Description of the compromise", i.what_happened),
                F("Type of personal information involved", f.categories()),
                F("Categories of data subjects", f.kinds()),
                F("Number of data subjects affected", f.subjects(), "Give an estimate."),
                F("Number of records affected", f.records(), "Give an estimate."),
                F("Identity of the unauthorised person, if known (s22(5)(d))", "", "Unknown, or who."),
            ),
        ),
        ReportSection(
            "Part C — Consequences and measures (s22(5)(a)–(c))",
            (
                F("Possible consequences", i.likely_consequences),
                F("Measures taken to address the compromise", f.measures()),
                F("Measures intended", i.measures_proposed.strip()),
            ),
        ),
        ReportSection(
            "Part D — Notification of the data subjects (s22(1), (4))",
            (
                F("Data subjects notified", f.people_told()),
                F("Timing", f.timing()),
                F("Reasons for any delay (e.g. a direction under s22(3))", f.delay()),
            ),
        ),
    )


_BUILDERS = {
    "EU-SA": _gdpr,
    "UK-ICO": _gdpr,
    "IN-DPB": _dpb_intimation,
    "IN-DPB-REPORT": _dpb_report,
    "CERT-IN": _cert_in,
    "ZA-IR": _scn1,
}


def authority_report(*, incident: Incident, duty: Duty, now: datetime | None = None) -> AuthorityReport:
    """The pre-filled report for ``duty`` (an authority's or CERT-In's duty of this
    incident); 404 for any other duty."""
    if duty.incident_id != incident.pk or duty.code not in _BUILDERS:
        raise Http404("No report for this duty")
    now = now or timezone.now()
    facts = ReportFacts(incident, duty, now)
    return AuthorityReport(
        code=duty.code,
        authority=AUTHORITIES[duty.code],
        incident=incident,
        duty=duty,
        workspace=facts.workspace,
        sections=_BUILDERS[duty.code](facts),
        generated_at=now,
    )


def report_duties(*, incident: Incident) -> list[Duty]:
    """The incident's duties that have a report to download, in clock order."""
    return list(
        Duty.objects.for_workspace(incident.workspace_id)
        .filter(incident=incident, code__in=REPORT_CODES)
        .order_by("due_at", "code")
    )
