"""The consent API: consent state and records, the contact-check, sequence
enrolment — and that nothing of another workspace or another client is reachable."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from types import SimpleNamespace

import pytest

from accounts.services import api_key_create, client_create
from communications.models import DebtSequence
from communications.sequences import sequence_create
from communications.services import template_save
from consent.models import ConsentRecord, ContactAttempt
from consent.services import policy_publish
from kernel.tenancy import workspace_context
from tests.conftest import api
from tests.cross_tenant import assert_api_error
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
JSON = "application/json"


@pytest.fixture
def acme(world):
    """Workspace A: a Sahyadri debt and a Konkan debt, a Sahyadri-scoped key, a sequence."""
    with workspace_context(world.a):
        konkan = client_create(workspace=world.a, name="Konkan Telecom", reference="KONKAN")
        mine = make_debt(world.a, client_ref="SAHYADRI")
        theirs = make_debt(world.a, client_ref=konkan.reference)
        template_save(
            workspace=world.a, name="nudge", channel="sms", language="en", subject="", body="{{ balance }} due"
        )
        seq = sequence_create(
            workspace=world.a,
            name="Standard",
            steps=[{"day": 0, "channel": "sms", "template": "nudge"}, {"day": 7, "channel": "call"}],
        )
        sahyadri_key = api_key_create(workspace=world.a, name="Sahyadri", client=mine.client).secret
    with workspace_context(world.b):
        foreign_seq = sequence_create(workspace=world.b, name="Theirs", steps=[{"day": 0, "channel": "call"}])
    return SimpleNamespace(mine=mine, theirs=theirs, seq=seq, foreign_seq=foreign_seq, sahyadri_key=sahyadri_key)


def _consent_url(debt):
    return f"/api/v1/debtors/{debt.debtor_id}/consent/"


# --- Consent -----------------------------------------------------------------------------


def test_consent_is_recorded_and_read_back_with_its_proof(world, acme):
    notice = policy_publish(kind="collection_notice", version="1.4", text="How we contact you …")
    a = api(world.key_a)
    r = a.post(_consent_url(acme.mine), {"purpose": "contact_sms", "action": "withdraw"}, content_type=JSON)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["purpose"], body["action"], body["source"], body["notice_version"], body["notice_sha256"]) == (
        "contact_sms",
        "withdraw",
        "api",
        "1.4",
        notice.text_hash,
    )
    r = a.post(
        _consent_url(acme.mine),
        {"purpose": "all_contact", "action": "withdraw", "source": "agent_call", "notice_version": "1.4"},
        content_type=JSON,
    )
    assert r.status_code == 201 and r.json()["source"] == "agent_call"

    r = a.get(_consent_url(acme.mine))
    assert r.status_code == 200
    body = r.json()
    assert body["debtor"] == str(acme.mine.debtor_id)
    assert body["state"] == {"contact_sms": "withdraw", "all_contact": "withdraw"}
    assert [rec["purpose"] for rec in body["records"]] == ["contact_sms", "all_contact"]
    assert {"id", "time", "lawful_basis", "notice_sha256", "ip", "user_agent", "recorded_by_user_id"} <= set(
        body["records"][0]
    )
    with workspace_context(world.a):
        from audit.models import AuditEvent

        assert AuditEvent.objects.filter(action="personal_data.read", object_id=str(acme.mine.debtor_id)).exists()
    # The rules see it at once.
    r = a.get(f"/api/v1/debts/{acme.mine.pk}/contact-check/", {"channel": "sms", "at": "2026-11-23T11:00:00+05:30"})
    assert {x["code"] for x in r.json()["reasons"]} == {"opted_out", "cease_communication"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"purpose": "telepathy", "action": "grant"}, "purpose"),
        ({"purpose": "contact_sms", "action": "maybe"}, "action"),
        ({"purpose": "contact_sms", "action": "grant", "source": "opt_out_link"}, "source"),
        ({"purpose": "contact_sms", "action": "grant", "notice_version": "9.9"}, "notice_version"),
    ],
)
def test_bad_consent_input_is_a_400_naming_the_field(world, acme, payload, field):
    r = api(world.key_a).post(_consent_url(acme.mine), payload, content_type=JSON)
    error = assert_api_error(r, 400)
    assert field in error["fields"]
    with workspace_context(world.a):
        assert not ConsentRecord.objects.exists()


# --- Contact check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        ("2026-11-23T07:59:00+05:30", False),
        ("2026-11-23T08:00:00+05:30", True),
        ("2026-11-23T18:59:00+05:30", True),
        ("2026-11-23T19:00:00+05:30", False),
        ("2026-11-23T02:30:00Z", True),  # 08:00 in India
    ],
)
def test_contact_check_edges_in_the_debtors_time(world, acme, at, allowed):
    r = api(world.key_a).get(f"/api/v1/debts/{acme.mine.pk}/contact-check/", {"channel": "sms", "at": at})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["allowed"] is allowed and body["channel"] == "sms"
    assert body["debtor_local_time"].endswith("+05:30")
    if not allowed:
        (reason,) = body["reasons"]
        assert reason["code"] == "outside_hours" and reason["source"]
    with workspace_context(world.a):
        assert not ContactAttempt.objects.exists()  # asking records nothing


def test_contact_check_without_a_channel_answers_for_every_channel(world, acme, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 23, 7, 59, tzinfo=IST))
    r = api(world.key_a).get(f"/api/v1/debts/{acme.mine.pk}/contact-check/")
    decisions = {d["channel"]: d["allowed"] for d in r.json()["decisions"]}
    assert decisions == {"email": False, "sms": False, "call": False, "whatsapp": False, "letter": True}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"channel": "sms", "at": "2026-11-23T08:00:00"}, "at"),
        ({"channel": "sms", "at": "tomorrow"}, "at"),
    ],
)
def test_contact_check_rejects_bad_parameters(world, acme, params, field):
    error = assert_api_error(api(world.key_a).get(f"/api/v1/debts/{acme.mine.pk}/contact-check/", params), 400)
    assert field in error["fields"]


# --- Sequences ---------------------------------------------------------------------------


def test_a_debt_is_enrolled_once_and_listed_with_what_comes_next(world, acme, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: datetime(2026, 11, 23, 11, 0, tzinfo=IST))
    a = api(world.key_a)
    url = f"/api/v1/debts/{acme.mine.pk}/sequences/"
    r = a.post(url, {"sequence": str(acme.seq.pk)}, content_type=JSON)
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["sequence"], body["sequence_name"], body["next_step"], body["paused"]) == (
        str(acme.seq.pk),
        "Standard",
        0,
        False,
    )
    assert body["preview"] == {
        "step": {"day": 0, "channel": "sms", "template": "nudge"},
        "due_at": body["next_due_at"],
        "allowed_now": True,
        "reasons": [],
    }
    again = a.post(url, {"sequence": str(acme.seq.pk)}, content_type=JSON)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    listed = a.get(url).json()
    assert [e["id"] for e in listed] == [body["id"]]
    with workspace_context(world.a):
        assert DebtSequence.objects.count() == 1


def test_enrolling_in_another_workspaces_sequence_is_refused(world, acme):
    a = api(world.key_a)
    url = f"/api/v1/debts/{acme.mine.pk}/sequences/"
    for payload in ({"sequence": str(acme.foreign_seq.pk)}, {"sequence": "not-a-uuid"}, {}):
        error = assert_api_error(a.post(url, payload, content_type=JSON), 400)
        assert "sequence" in error["fields"]
    with workspace_context(world.a):
        assert not DebtSequence.objects.exists()


# --- Tenancy -----------------------------------------------------------------------------


def _urls(acme, debt):
    return [
        ("GET", _consent_url(debt), None),
        ("POST", _consent_url(debt), {"purpose": "contact_sms", "action": "withdraw"}),
        ("GET", f"/api/v1/debts/{debt.pk}/contact-check/?channel=sms", None),
        ("GET", f"/api/v1/debts/{debt.pk}/sequences/", None),
        ("POST", f"/api/v1/debts/{debt.pk}/sequences/", {"sequence": str(acme.seq.pk)}),
    ]


def _send(client, method, url, payload):
    if method == "POST":
        return client.post(url, payload, content_type=JSON)
    return client.get(url)


def test_another_workspaces_key_gets_404_everywhere(world, acme):
    b = api(world.key_b)
    for method, url, payload in _urls(acme, acme.mine):
        assert_api_error(_send(b, method, url, payload), 404)
    with workspace_context(world.a):
        assert not ConsentRecord.objects.exists() and not DebtSequence.objects.exists()


def test_a_client_scoped_key_reaches_only_its_clients_debtors(world, acme):
    scoped = api(acme.sahyadri_key)
    for method, url, payload in _urls(acme, acme.theirs):
        assert_api_error(_send(scoped, method, url, payload), 404)
    with workspace_context(world.a):
        assert not ConsentRecord.objects.exists() and not DebtSequence.objects.exists()
    for method, url, payload in _urls(acme, acme.mine):
        r = _send(scoped, method, url, payload)
        assert r.status_code in (200, 201), (method, url, r.content)


def test_the_endpoints_are_documented(world):
    r = api(world.key_a).get("/api/schema/", HTTP_ACCEPT="application/json")
    text = r.content.decode()
    for path in ("/api/v1/debtors/{id}/consent/", "/api/v1/debts/{id}/contact-check/", "/api/v1/debts/{id}/sequences/"):
        assert path in text, path
    assert "cease all communication" in text and "outside_hours" in text
