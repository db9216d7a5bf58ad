"""Policy versions and re-acceptance, cookies, proof of consent, contact-rule settings."""

from __future__ import annotations

import csv
import io

from django.test import Client as HttpClient

from accounts.roles import Role
from consent.cookies import ANALYTICS_COOKIE, CONSENT_COOKIE, cookie_registry
from consent.models import ContactPolicy, PolicyAcceptance, VisitorConsent
from consent.services import consent_record, disclosure_record, policy_publish
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt


def test_material_change_is_accepted_once_at_next_visit(world, django_capture_on_commit_callbacks):
    c = login(world.alice)
    assert c.get("/w/acme/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        policy_publish(kind="privacy", version="2.0", text="We now also …", material_change=True)
    r = c.get("/w/acme/")
    assert r.status_code == 302 and r["Location"].startswith("/legal/accept/")
    c.post("/legal/accept/", {"next": "/w/acme/"})
    assert PolicyAcceptance.objects.filter(user=world.alice, policy__version="2.0").exists()
    assert c.get("/w/acme/").status_code == 200
    page = HttpClient().get("/legal/privacy/").content.decode()
    assert "Version 2.0" in page and "History" in page


def test_material_change_notifies_debtors_with_email_except_opted_out(world, django_capture_on_commit_callbacks):
    from django.core import mail

    with workspace_context(world.a):
        keep = make_debt(world.a, email="keep@example.com")
        gone = make_debt(world.a, email="gone@example.com")
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(gone.debtor_id),
            purpose="contact_email",
            action="withdraw",
            source="debtor_page",
        )
    with django_capture_on_commit_callbacks(execute=True):
        policy_publish(kind="privacy", version="3.0", text="Changed.", material_change=True)
    recipients = {m.to[0] for m in mail.outbox}
    assert "keep@example.com" in recipients and "gone@example.com" not in recipients
    assert keep


def test_no_analytics_cookie_before_consent_and_the_choice_is_recorded(world):
    c = HttpClient()
    page = c.get("/legal/cookies/")
    assert ANALYTICS_COOKIE not in page.cookies and b"Accept analytics" in page.content
    r = c.post("/cookies/consent/", {"analytics": "no", "next": "/legal/cookies/"})
    assert ANALYTICS_COOKIE not in r.cookies or r.cookies[ANALYTICS_COOKIE].value == ""
    r = c.post("/cookies/consent/", {"analytics": "yes", "next": "/legal/cookies/"})
    assert r.cookies[ANALYTICS_COOKIE].value and r.cookies[CONSENT_COOKIE]["httponly"]
    assert list(VisitorConsent.objects.order_by("created_at").values_list("analytics", flat=True)) == [False, True]
    assert b"Accept analytics" not in c.get("/legal/cookies/").content.split(b"<table")[0]
    # An off-site "next" is not followed.
    assert c.post("/cookies/consent/", {"analytics": "no", "next": "https://evil.example/"})["Location"] == "/"


def test_cookie_table_matches_the_settings_that_set_them(settings):
    by_name = {c.name: c for c in cookie_registry()}
    assert by_name[settings.SESSION_COOKIE_NAME].http_only is True
    assert by_name[settings.SESSION_COOKIE_NAME].retention == f"{settings.SESSION_COOKIE_AGE // 3600} hours"
    assert by_name[settings.CSRF_COOKIE_NAME].category == "necessary"


def test_proof_of_consent_shows_the_notice_version(world):
    policy = policy_publish(kind="collection_notice", version="1.4", text="How we contact you …")
    with workspace_context(world.a):
        debt = make_debt(world.a)
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(debt.debtor_id),
            purpose="contact_sms",
            action="grant",
            source="agent_call",
        )
    r = login(world.alice).get(f"/w/acme/debtors/{debt.debtor_id}/consent-proof.csv")
    (row,) = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert (row["notice_version"], row["notice_sha256"], row["source"]) == ("1.4", policy.text_hash, "agent_call")
    assert login(world.bob).get(f"/w/acme/debtors/{debt.debtor_id}/consent-proof.csv").status_code == 404


def test_contact_rules_settings_are_stricter_only_and_owner_only(world):
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    assert login(agent).post("/w/acme/settings/contact-rules/", {"start_hour": 9}).status_code == 403
    r = login(world.alice).post(
        "/w/acme/settings/contact-rules/",
        {"start_hour": 9, "end_hour": 18, "allow_weekends": "", "blackout": "2026-12-25"},
    )
    assert r.status_code == 302
    with workspace_context(world.a):
        policy = ContactPolicy.objects.get()
    assert (policy.start_hour, policy.end_hour, policy.blackout_dates) == (9, 18, ["2026-12-25"])
    import zoneinfo
    from datetime import datetime

    from consent.rules import can_contact

    ist = zoneinfo.ZoneInfo("Asia/Kolkata")
    with workspace_context(world.a):
        debt = make_debt(world.a)
        assert {r.code for r in can_contact(debt, "call", datetime(2026, 11, 23, 8, 30, tzinfo=ist)).reasons} == {
            "outside_hours"
        }
        assert {r.code for r in can_contact(debt, "call", datetime(2026, 12, 25, 11, 0, tzinfo=ist)).reasons} == {
            "blackout"
        }
        assert "weekend" in {
            r.code for r in can_contact(debt, "call", datetime(2026, 11, 28, 11, 0, tzinfo=ist)).reasons
        }
    assert login(world.bob).get("/w/acme/settings/contact-rules/").status_code == 404


def test_disclosures_are_recorded_and_audited(world):
    from audit.models import AuditEvent
    from consent.models import Disclosure

    with workspace_context(world.a):
        debt = make_debt(world.a)
        disclosure_record(
            workspace=world.a,
            debtor=debt.debtor,
            recipient_type="legal_firm",
            recipient_name="Shah & Co",
            categories=["identity", "financial"],
            purpose="legal proceedings",
        )
        assert Disclosure.objects.get().categories == ["financial", "identity"]
        assert AuditEvent.objects.filter(action="personal_data.disclosed").exists()


def test_public_sub_processor_page(world):
    from consent.models import SubProcessor

    SubProcessor.objects.create(
        name="Brevo",
        purpose="Email delivery",
        region="EU (France)",
        transfer_safeguard="EU processing; SCCs for transfers",
    )
    page = HttpClient().get("/legal/sub-processors/").content.decode()
    assert "Brevo" in page and "SCCs" in page
