"""Jurisdiction profiles: the legal numbers a workspace runs under.

Each figure is encoded once, here, with its source (see ../shared/REGULATIONS.md and
docs/jurisdictions.md). Later issues (contact rules, rights requests, breach clocks)
read them from ``profile_for(workspace.jurisdiction)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from django.db import models


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
    ),
}


def profile_for(code: str) -> JurisdictionProfile:
    return PROFILES[code]
