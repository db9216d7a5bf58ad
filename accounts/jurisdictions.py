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
    rights_request_days: int
    rights_request_extension_days: int
    rights_request_source: str
    breach_authority_hours: int | None
    breach_source: str
    data_region: str


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
        rights_request_days=45,
        rights_request_extension_days=45,
        rights_request_source="State privacy laws (e.g. CCPA 45 days); configurable",
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
        rights_request_days=30,
        rights_request_extension_days=0,
        rights_request_source="DPDP Rules 2025 (unconfirmed); configurable",
        breach_authority_hours=72,
        breach_source="DPDP Rules 2025, Rule 7 (unconfirmed wording)",
        data_region="in",
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
        rights_request_days=30,
        rights_request_extension_days=30,
        rights_request_source="POPIA s23 'reasonable time', PAIA 30 days (unconfirmed)",
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
        rights_request_days=30,
        rights_request_extension_days=60,
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
        rights_request_days=30,
        rights_request_extension_days=60,
        rights_request_source="UK GDPR Art. 12(3)",
        breach_authority_hours=72,
        breach_source="UK GDPR Art. 33(1)",
        data_region="uk",
    ),
}


def profile_for(code: str) -> JurisdictionProfile:
    return PROFILES[code]
