"""What a person affected by a breach is told, in plain language (GDPR Art. 34(2) with
Art. 33(3)(b)–(d); DPDP Rules 2025, Rule 7(1); POPIA s22(4)):

- what happened and when (the incident's description, written without anyone's details);
- which of their data was involved (the categories the finder found for them);
- the likely consequences;
- what was done and what will be done (measures taken and proposed);
- what they can do to protect themselves (advice by category of data);
- whom to contact (the workspace's privacy contact) and where they may complain.

Email or SMS, in English or Hindi (the person's ``preferred_language``; the staff-written
parts stay as written). Nothing of the person's but their account references.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string

from accounts.models import Workspace
from incidents.contact import ContactPoint
from incidents.models import Incident
from kernel.privacy.registry import Category

LANGUAGES = ("en", "hi")
NOTICE_TEMPLATE = "breach-notice"  # Communication.template: "breach-notice@<reference>"

_SUBJECT = {
    "en": "{agency}: a security incident involving your personal data",
    "hi": "{agency}: आपके व्यक्तिगत डेटा से जुड़ी एक सुरक्षा घटना",
}

CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "en": {
        Category.IDENTITY: "your name and identity details",
        Category.CONTACT: "your contact details (email, phone, address)",
        Category.FINANCIAL: "financial details of your account",
        Category.GOVERNMENT_ID: "a government identity number",
        Category.COMMUNICATION: "the content of messages between us",
        Category.TECHNICAL: "technical data (IP address, device)",
        Category.AUTHENTICATION: "sign-in details",
        Category.DEMOGRAPHIC: "details such as your date of birth",
    },
    "hi": {
        Category.IDENTITY: "आपका नाम और पहचान का विवरण",
        Category.CONTACT: "आपके संपर्क विवरण (ईमेल, फ़ोन, पता)",
        Category.FINANCIAL: "आपके खाते का वित्तीय विवरण",
        Category.GOVERNMENT_ID: "सरकारी पहचान संख्या",
        Category.COMMUNICATION: "हमारे बीच हुए संदेशों की सामग्री",
        Category.TECHNICAL: "तकनीकी डेटा (IP पता, डिवाइस)",
        Category.AUTHENTICATION: "साइन-इन विवरण",
        Category.DEMOGRAPHIC: "जन्म तिथि जैसे विवरण",
    },
}

# What a person can do, by the kind of data involved (DPDP Rule 7(1)(d): "safety measures
# that the Data Principal may take"; GDPR Art. 34(2) via 33(3)(d): mitigation).
ADVICE: dict[str, dict[str, str]] = {
    "en": {
        Category.IDENTITY: "Be wary of anyone who uses your name or account details to ask you for money or information.",
        Category.CONTACT: (
            "Expect possible scam emails, messages or calls: do not open links or pay anyone who contacts you"
            " unexpectedly; check with us at the contact below first."
        ),
        Category.FINANCIAL: (
            "Check your bank and card statements and tell your bank about any payment you do not recognise."
            " Pay us only through the channels you already know."
        ),
        Category.GOVERNMENT_ID: (
            "Watch for loans, accounts or SIM cards opened in your name, and report any misuse of your identity"
            " number to the authority that issued it."
        ),
        Category.COMMUNICATION: "Be careful with anyone who refers to your conversations with us.",
        Category.TECHNICAL: "Keep your devices and browser up to date.",
        Category.AUTHENTICATION: (
            "Change your password, here and anywhere you used the same one, and turn on two-step sign-in."
        ),
        Category.DEMOGRAPHIC: "Be cautious of anyone who uses details such as your date of birth to pass as you.",
    },
    "hi": {
        Category.IDENTITY: "जो कोई आपका नाम या खाते का विवरण बताकर पैसे या जानकारी माँगे, उससे सावधान रहें।",
        Category.CONTACT: (
            "धोखाधड़ी वाले ईमेल, संदेश या कॉल आ सकते हैं: अचानक संपर्क करने वाले किसी लिंक को न खोलें और किसी को"
            " भुगतान न करें; पहले नीचे दिए संपर्क पर हमसे पूछें।"
        ),
        Category.FINANCIAL: (
            "अपने बैंक और कार्ड के विवरण देखें और कोई अनजान भुगतान दिखे तो अपने बैंक को बताएँ। हमें केवल उन्हीं"
            " माध्यमों से भुगतान करें जिन्हें आप पहले से जानते हैं।"
        ),
        Category.GOVERNMENT_ID: (
            "अपने नाम पर खुले किसी ऋण, खाते या SIM पर नज़र रखें, और पहचान संख्या के दुरुपयोग की सूचना उसे जारी करने वाले प्राधिकरण को दें।"
        ),
        Category.COMMUNICATION: "जो कोई हमारे साथ हुई आपकी बातचीत का ज़िक्र करे, उससे सावधान रहें।",
        Category.TECHNICAL: "अपने डिवाइस और ब्राउज़र को अपडेट रखें।",
        Category.AUTHENTICATION: "अपना पासवर्ड बदलें, यहाँ और जहाँ भी आपने वही पासवर्ड रखा हो, और दो-चरणीय साइन-इन चालू करें।",
        Category.DEMOGRAPHIC: "जो कोई आपकी जन्म तिथि जैसे विवरण से आपके नाम पर काम करना चाहे, उससे सावधान रहें।",
    },
}

# Where a person may complain, by the workspace's jurisdiction.
COMPLAIN_TO: dict[str, dict[str, str]] = {
    "en": {
        "IN": "the Data Protection Board of India",
        "EU": "the data protection authority of your country",
        "UK": "the Information Commissioner's Office (ico.org.uk)",
        "ZA": "the Information Regulator (inforegulator.org.za)",
        "US": "the Federal Trade Commission (IdentityTheft.gov) or your state attorney general",
    },
    "hi": {
        "IN": "भारतीय डेटा संरक्षण बोर्ड",
        "EU": "अपने देश का डेटा संरक्षण प्राधिकरण",
        "UK": "Information Commissioner's Office (ico.org.uk)",
        "ZA": "Information Regulator (inforegulator.org.za)",
        "US": "Federal Trade Commission (IdentityTheft.gov) या आपके राज्य के अटॉर्नी जनरल",
    },
}


@dataclass(frozen=True)
class NoticeFacts:
    """What every notice of one incident says, read once per batch."""

    workspace: Workspace
    incident: Incident
    contact: ContactPoint


def language_of(preferred: str | None) -> str:
    value = (preferred or "en").lower().split("-")[0]
    return value if value in LANGUAGES else "en"


def _day(workspace: Workspace, moment: datetime | None, language: str) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zoneinfo.ZoneInfo(workspace.timezone))
    return f"{local:%d-%m-%Y}" if language == "hi" else f"{local.day} {local:%B %Y}"


def notice_message(
    *, facts: NoticeFacts, accounts: list[str], categories: list[str], channel: str, language: str
) -> tuple[str, str]:
    """(subject, body) of one person's notice. ``accounts``: their account references
    ("ACC-1 (Client)"); ``categories``: the registry categories the finder found touched
    for them. The message names the incident's declared categories that were touched of
    them (all declared ones when none was, the finder's when none is declared)."""
    language = language if language in LANGUAGES else "en"
    incident, workspace = facts.incident, facts.workspace
    declared = [c for c in incident.data_categories or [] if c in Category.values]
    theirs = [c for c in categories or [] if c in Category.values]
    # What the officer declared involved, narrowed to what was touched of this person.
    found = [c for c in declared if c in theirs] or declared or theirs
    labels = CATEGORY_LABELS[language]
    advice = ADVICE[language]
    context: dict[str, Any] = {
        "agency": workspace.name,
        "reference": incident.reference,
        "accounts": ", ".join(accounts),
        "several": len(accounts) > 1,
        "what_happened": incident.what_happened.strip(),
        "occurred_on": _day(workspace, incident.occurred_at, language),
        "aware_on": _day(workspace, incident.aware_at, language),
        "categories": [labels[c] for c in found],
        "consequences": incident.likely_consequences.strip(),
        "measures_taken": incident.measures_taken.strip(),
        "measures_proposed": incident.measures_proposed.strip(),
        "advice": [advice[c] for c in found],
        "contact": facts.contact.line,
        "complain_to": COMPLAIN_TO[language].get(workspace.jurisdiction, COMPLAIN_TO[language]["EU"]),
    }
    suffix = "" if language == "en" else f"_{language}"
    body = render_to_string(f"incidents/notice_people_{channel}{suffix}.txt", context).strip() + "\n"
    return _SUBJECT[language].format(agency=workspace.name), body


def notice_preview(*, incident: Incident, contact: ContactPoint | None, channel: str, language: str) -> tuple[str, str]:
    """(subject, body) as a person would get it, with a placeholder for their accounts."""
    workspace = Workspace.objects.get(pk=incident.workspace_id)
    sample = "[your account reference] ([creditor])" if language == "en" else "[आपका खाता संदर्भ] ([लेनदार])"
    return notice_message(
        facts=NoticeFacts(workspace=workspace, incident=incident, contact=contact or ContactPoint("", "", "")),
        accounts=[sample],
        categories=list(incident.data_categories),
        channel=channel,
        language=language,
    )
