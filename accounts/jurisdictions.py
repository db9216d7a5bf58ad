"""Jurisdiction profiles: the legal numbers a workspace runs under.

Each figure is encoded once, here, with its source (see ../shared/REGULATIONS.md and
docs/jurisdictions.md). Later issues (contact rules, rights requests, breach clocks)
read them from ``profile_for(workspace.jurisdiction)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from django.db import models


@dataclass(frozen=True)
class RetentionPeriod:
    """A profile's period for one retention category (a ``Retention`` rule's name).

    ``minimum``: the law requires keeping at least this long, so a workspace may
    lengthen it but not shorten it. Otherwise it is the profile's default, which a
    workspace may change either way down to the registry's legal floor, if any."""

    days: int
    source: str
    minimum: bool = True


@dataclass(frozen=True)
class BreachDuty:
    """One duty to notify after a personal-data breach (incidents.clocks).

    ``hours`` from awareness; None: "without (undue) delay" / "as soon as reasonably
    possible", measured against the workspace's own target. ``when``: ``always``,
    ``high_risk`` (likely high risk to people, and the data was not unintelligible) or
    ``cert_in_listed`` (a cyber incident CERT-In lists)."""

    code: str
    party: str  # authority | cert_in | people
    label: str
    hours: int | None
    source: str
    when: str = "always"


class Jurisdiction(models.TextChoices):
    IN = "IN", "India"
    ZA = "ZA", "South Africa"
    EU = "EU", "European Union"
    UK = "UK", "United Kingdom"
    US = "US", "United States"


@dataclass(frozen=True)
class JurisdictionProfile:
    code: str
    default_currency: str
    default_timezone: str
    contact_start: time
    contact_end: time
    contact_hours_source: str
    call_cap_per_7_days: int | None
    call_cap_source: str
    # Rights requests: answer within ``months`` calendar months or ``days`` days of
    # the clock's start, extendable once by ``extension_*`` (privacy_requests.deadlines).
    rights_request_months: int
    rights_request_days: int
    rights_request_extension_months: int
    rights_request_extension_days: int
    rights_request_source: str
    breach_authority_hours: int | None
    breach_source: str
    data_region: str
    # India: the workspace publishes its own period, never above the rules' cap.
    rights_request_max_days: int | None = None
    rights_request_period_source: str = ""
    # Retention (retention.schedules): per category name, the profile's period and its
    # source; categories not named keep the registry's default.
    retention: dict[str, RetentionPeriod] = field(default_factory=dict)
    # Tell the person this many days before erasing their data for inactivity
    # (None: no notice required).
    retention_notice_days: int | None = None
    retention_notice_source: str = ""
    # Who must be told of a breach, and by when (clients' own deadlines come from their contracts).
    breach_duties: tuple[BreachDuty, ...] = ()
    # The last day (month, day) of the financial year the books are kept by: the books'
    # period (FINANCIAL_RECORDS) counts from the end of the year of a debt's last entry.
    financial_year_end: tuple[int, int] = (12, 31)


PROFILES: dict[str, JurisdictionProfile] = {
    "US": JurisdictionProfile(
        code="US",
        default_currency="USD",
        default_timezone="America/New_York",
        contact_start=time(8, 0),
        contact_end=time(21, 0),
        contact_hours_source="12 CFR 1006.6(b)(1)(i)",
        call_cap_per_7_days=7,
        call_cap_source="12 CFR 1006.14(b)(2)",
        rights_request_months=0,
        rights_request_days=45,
        rights_request_extension_months=0,
        rights_request_extension_days=45,
        rights_request_source="State privacy laws, e.g. CCPA Cal. Civ. Code 1798.130(a)(2): 45 days + 45",
        breach_authority_hours=None,
        breach_source="State breach laws vary; configurable",
        data_region="us",
        retention={
            "COLLECTION_RECORDS": RetentionPeriod(
                3 * 365, "12 CFR 1006.100(b): 3 years after the last collection activity"
            ),
            "FINANCIAL_RECORDS": RetentionPeriod(
                7 * 365, "IRS record keeping (26 CFR 1.6001-1; up to 7 years for bad-debt deductions; unconfirmed)"
            ),
        },
        breach_duties=(
            BreachDuty(
                "PEOPLE",
                "people",
                "People affected",
                None,
                "State breach laws: in the most expedient time possible (e.g. Cal. Civ. Code 1798.82(a)); "
                "state deadlines vary — configurable target",
                "always",
            ),
        ),
    ),
    "IN": JurisdictionProfile(
        code="IN",
        default_currency="INR",
        default_timezone="Asia/Kolkata",
        contact_start=time(8, 0),
        contact_end=time(19, 0),
        contact_hours_source="RBI circular on recovery agents, 12 Aug 2022",
        call_cap_per_7_days=None,
        call_cap_source="No statutory cap; configurable",
        rights_request_months=0,
        rights_request_days=30,
        rights_request_extension_months=0,
        rights_request_extension_days=0,
        rights_request_source="DPDP Act 2023 s.13: the workspace's published grievance period (default 30 days)",
        breach_authority_hours=72,
        breach_source="DPDP Rules 2025, Rule 7 (unconfirmed wording)",
        data_region="in",
        rights_request_max_days=90,
        rights_request_period_source="DPDP Rules 2025 r.14(3): grievances answered within 90 days at most (unconfirmed)",
        retention={
            "FINANCIAL_RECORDS": RetentionPeriod(8 * 365, "Companies Act 2013 s.128(5): books of account for 8 years"),
            "SECURITY_LOGS": RetentionPeriod(365, "DPDP Rules 2025 r.8(3): processing logs at least 1 year"),
        },
        retention_notice_days=2,
        retention_notice_source="DPDP Rules 2025 r.8: 48 hours' notice before erasure for inactivity (unconfirmed)",
        financial_year_end=(3, 31),  # Companies Act 2013 s.2(41): the financial year ends on 31 March
        breach_duties=(
            BreachDuty(
                "IN-DPB",
                "authority",
                "Data Protection Board: intimation",
                None,
                "DPDP Rules 2025, Rule 7(2)(a): without delay (unconfirmed wording)",
            ),
            BreachDuty(
                "IN-DPB-REPORT",
                "authority",
                "Data Protection Board: detailed report",
                72,
                "DPDP Rules 2025, Rule 7(2)(b): within 72 hours (unconfirmed wording)",
            ),
            BreachDuty(
                "CERT-IN",
                "cert_in",
                "CERT-In: cyber incident report",
                6,
                "CERT-In directions of 28 Apr 2022, para (ii): within 6 hours of noticing",
                "cert_in_listed",
            ),
            BreachDuty(
                "PEOPLE",
                "people",
                "People affected",
                None,
                "DPDP Rules 2025, Rule 7(1): each affected Data Principal, without delay",
                "always",
            ),
        ),
    ),
    "ZA": JurisdictionProfile(
        code="ZA",
        default_currency="ZAR",
        default_timezone="Africa/Johannesburg",
        contact_start=time(7, 0),
        contact_end=time(20, 0),
        contact_hours_source="Industry default, not statutory (unconfirmed); configurable",
        call_cap_per_7_days=None,
        call_cap_source="No statutory cap; configurable",
        rights_request_months=1,
        rights_request_days=0,
        rights_request_extension_months=0,
        rights_request_extension_days=30,
        rights_request_source="POPIA s23 'reasonable time'; one month as the policies promise; PAIA s25-26: 30 + 30 days",
        breach_authority_hours=None,
        breach_source="POPIA s22: as soon as reasonably possible",
        data_region="za",
        retention={
            "FINANCIAL_RECORDS": RetentionPeriod(
                5 * 365, "Companies Act 71 of 2008 s.24 and Tax Administration Act s.29: 5 years"
            ),
            "COLLECTION_RECORDS": RetentionPeriod(
                3 * 365,
                "POPIA s.14: no longer than necessary; prescription of debts, Prescription Act s.11(d): 3 years",
                minimum=False,
            ),
        },
        breach_duties=(
            BreachDuty(
                "ZA-IR",
                "authority",
                "Information Regulator (form SCN1)",
                None,
                "POPIA s22(1)-(2): as soon as reasonably possible after discovery",
            ),
            BreachDuty(
                "PEOPLE",
                "people",
                "People affected",
                None,
                "POPIA s22(1)-(2): as soon as reasonably possible, unless their identity cannot be established",
                "always",
            ),
        ),
    ),
    "EU": JurisdictionProfile(
        code="EU",
        default_currency="EUR",
        default_timezone="Europe/Berlin",
        contact_start=time(8, 0),
        contact_end=time(20, 0),
        contact_hours_source="No single EU rule; conservative default, configurable",
        call_cap_per_7_days=None,
        call_cap_source="No statutory cap; configurable",
        rights_request_months=1,
        rights_request_days=0,
        rights_request_extension_months=2,
        rights_request_extension_days=0,
        rights_request_source="GDPR Art. 12(3): one month, extendable by two",
        breach_authority_hours=72,
        breach_source="GDPR Art. 33(1)",
        data_region="eu",
        retention={
            "FINANCIAL_RECORDS": RetentionPeriod(
                10 * 365, "HGB §257(4) (Germany, the profile's default seat): books 10 years; other states differ"
            ),
            "COLLECTION_RECORDS": RetentionPeriod(
                3 * 365, "GDPR Art. 5(1)(e) storage limitation; BGB §195 limitation period 3 years", minimum=False
            ),
        },
        breach_duties=(
            BreachDuty(
                "EU-SA",
                "authority",
                "Lead supervisory authority",
                72,
                "GDPR Art. 33(1): without undue delay, where feasible within 72 hours of awareness",
            ),
            BreachDuty(
                "PEOPLE",
                "people",
                "People affected",
                None,
                "GDPR Art. 34(1): without undue delay when likely to result in a high risk",
                "high_risk",
            ),
        ),
    ),
    "UK": JurisdictionProfile(
        code="UK",
        default_currency="GBP",
        default_timezone="Europe/London",
        contact_start=time(8, 0),
        contact_end=time(21, 0),
        contact_hours_source="FCA CONC 7.9 (unreasonable times); default configurable",
        call_cap_per_7_days=None,
        call_cap_source="No statutory cap; configurable",
        rights_request_months=1,
        rights_request_days=0,
        rights_request_extension_months=2,
        rights_request_extension_days=0,
        rights_request_source="UK GDPR Art. 12(3): one month, extendable by two",
        breach_authority_hours=72,
        breach_source="UK GDPR Art. 33(1)",
        data_region="uk",
        retention={
            "FINANCIAL_RECORDS": RetentionPeriod(6 * 365, "Companies Act 2006 s.388 and HMRC: 6 years"),
            "COLLECTION_RECORDS": RetentionPeriod(
                6 * 365, "Limitation Act 1980 s.5: claims on a contract within 6 years", minimum=False
            ),
        },
        breach_duties=(
            BreachDuty(
                "UK-ICO",
                "authority",
                "Information Commissioner's Office",
                72,
                "UK GDPR Art. 33(1): without undue delay, where feasible within 72 hours of awareness",
            ),
            BreachDuty(
                "PEOPLE",
                "people",
                "People affected",
                None,
                "UK GDPR Art. 34(1): without undue delay when likely to result in a high risk",
                "high_risk",
            ),
        ),
    ),
}


def profile_for(code: str) -> JurisdictionProfile:
    return PROFILES[code]
