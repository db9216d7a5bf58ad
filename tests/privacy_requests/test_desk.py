"""The privacy desk (/w/<slug>/privacy/) and the debt page's "Privacy requests"
section: logging a request, the queue with its deadlines, the request page and its
actions, the figures, the privacy contact — and who may do what (agents log,
managers fulfil, auditors read, client users see nothing).

Time is frozen (``django.utils.timezone.now``) at a fixed moment in India, where
workspace A is; workspace B (US) is used where an extension is allowed."""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Client, User
from accounts.roles import Role
from accounts.services import membership_add
from audit import actions
from audit.models import AuditEvent
from debtors.services.debts import debt_assign
from kernel.crypto.blobs import blob_encrypt
from kernel.tenancy import workspace_context
from privacy_requests import erasure, exports, fulfilment
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import (
    ErasurePlan,
    FileKind,
    PrivacyContact,
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestFile,
    RequestStatus,
    VerificationCode,
)
from privacy_requests.services import privacy_request_create, privacy_request_transition
from tests.conftest import PASSWORD, add_member, login
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 23, 11, 0, tzinfo=IST)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return NOW


@pytest.fixture
def desk(world, frozen):
    """Workspace A: a manager, an agent assigned the debt, an auditor, a Sahyadri
    client user; one Sahyadri debt."""
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(world.a, "auditor@example.com", Role.AUDITOR)
    client_user = User.objects.create_user(email="bank@example.com", password=PASSWORD)
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        membership_add(workspace=world.a, user=client_user, role=Role.MANAGER, client=sahyadri)
        debt = make_debt(world.a, client_ref="SAHYADRI")
        debt_assign(debt=debt, agent=agent)
    return SimpleNamespace(
        manager=manager, agent=agent, auditor=auditor, client_user=client_user, debt=debt, ws=world.a
    )


def _request(ws, debtor=None, *, days_ago=0, type="access", channel="phone", verified=True, **kw) -> PrivacyRequest:
    with workspace_context(ws):
        return privacy_request_create(
            workspace=ws,
            type=type,
            channel=channel,
            debtor=debtor,
            received_at=NOW - timedelta(days=days_ago),
            verified_by="caller gave date of birth" if verified else "",
            **kw,
        )


def _reload(pr: PrivacyRequest) -> PrivacyRequest:
    with workspace_context(pr.workspace):
        return PrivacyRequest.objects.get(pk=pr.pk)


def _url(pr: PrivacyRequest, tail: str = "") -> str:
    return f"/w/acme/privacy/requests/{pr.pk}/{tail}"


def _log_url(debt) -> str:
    return f"/w/acme/privacy/debts/{debt.pk}/requests/"


def _count(ws, **filters) -> int:
    with workspace_context(ws):
        return PrivacyRequest.objects.filter(**filters).count()


# --- Logging a request on the debt page ----------------------------------------------------


def test_the_debt_page_offers_agents_the_form_with_today_in_the_workspace_zone(desk):
    r = login(desk.agent).get(f"/w/acme/debts/{desk.debt.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert 'data-testid="privacy-panel"' in html and 'data-testid="privacy-log-form"' in html
    assert 'value="2026-11-23"' in html and 'max="2026-11-23"' in html
    assert "No privacy requests from this debtor." in html


def test_an_agent_logs_a_phone_request_verified_with_its_clock_at_receipt(desk):
    r = login(desk.agent).post(
        _log_url(desk.debt),
        {
            "type": "erasure",
            "channel": "phone",
            "received_on": "2026-11-23",
            "identity_check": "phone_dob",
            "details": "Please delete everything you hold about me.",
        },
        **HTMX,
    )
    assert r.status_code == 200
    html = r.content.decode()
    with workspace_context(desk.ws):
        pr = PrivacyRequest.objects.get()
        event = PrivacyRequestEvent.objects.get(request=pr)
        audit = AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_RECEIVED, object_id=str(pr.pk)).get()
    assert pr.debtor_id == desk.debt.debtor_id and pr.type == "erasure" and pr.channel == "phone"
    assert pr.status == RequestStatus.VERIFIED
    assert pr.verification_method == "checked by phone: date of birth"  # a fixed label, never free text
    assert pr.received_at == NOW and pr.clock_started_at == NOW and pr.created_by_id == desk.agent.pk
    assert pr.details == "Please delete everything you hold about me."
    # India: 30 days from receipt, the end of that day in the workspace's zone.
    assert pr.due_at == datetime(2026, 12, 23, 23, 59, 59, tzinfo=IST)
    assert event.actor_id == desk.agent.pk and "identity: checked by phone: date of birth" in event.reason
    assert audit.actor_user_id == desk.agent.pk
    # The refreshed debt panel lists it with its days left, and says so.
    assert pr.reference in html and "30 days left" in html and "logged; answer by 2026-12-23" in html
    assert 'data-testid="privacy-log-form"' in html


def test_a_request_received_on_an_earlier_day_counts_from_that_day(desk):
    r = login(desk.agent).post(
        _log_url(desk.debt),
        {"type": "access", "channel": "letter", "received_on": "2026-11-13", "identity_check": "letter_signed"},
    )
    assert r.status_code == 302 and r["Location"] == f"/w/acme/debts/{desk.debt.pk}/"
    pr = _reload(_only(desk.ws))
    assert pr.received_at.astimezone(IST).date().isoformat() == "2026-11-13"
    assert pr.due_at == datetime(2026, 12, 13, 23, 59, 59, tzinfo=IST)


def _only(ws) -> PrivacyRequest:
    with workspace_context(ws):
        return PrivacyRequest.objects.get()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"received_on": "2026-11-24"}, "received_on", "A request cannot be received in the future."),
        ({"identity_check": ""}, "identity_check", "This field is required."),
        ({"type": "delete_me"}, "type", "Select a valid choice."),
        ({"channel": "api"}, "channel", "Select a valid choice."),
        ({"received_on": "yesterday"}, "received_on", "Enter a valid date."),
    ],
)
def test_bad_input_shows_field_errors_inline_and_writes_nothing(desk, data, field, message):
    good = {"type": "access", "channel": "phone", "received_on": "2026-11-23", "identity_check": "phone_dob"}
    agent = login(desk.agent)
    r = agent.post(_log_url(desk.debt), {**good, **data}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'class="field-error"' in html and message in html
    assert "<details open>" in html  # the form stays open on its error
    assert _count(desk.ws) == 0
    # Without htmx: the debt page again, 400.
    assert agent.post(_log_url(desk.debt), {**good, **data}).status_code == 400
    assert _count(desk.ws) == 0


def test_client_users_see_no_privacy_section_and_cannot_log(desk, world):
    bank = login(desk.client_user)
    html = bank.get(f"/w/acme/debts/{desk.debt.pk}/").content.decode()
    assert 'data-testid="privacy-panel"' not in html
    ok = {"type": "access", "channel": "phone", "received_on": "2026-11-23", "identity_check": "phone_dob"}
    assert bank.post(_log_url(desk.debt), ok).status_code == 403
    for url in ("/w/acme/privacy/", "/w/acme/privacy/figures/", "/w/acme/privacy/settings/"):
        assert bank.get(url).status_code == 403, url
    assert _count(desk.ws) == 0


def test_an_agent_logs_only_on_debts_they_work(desk, world):
    with workspace_context(world.a):
        other = make_debt(world.a)
    ok = {"type": "access", "channel": "phone", "received_on": "2026-11-23", "identity_check": "phone_dob"}
    assert login(desk.agent).post(_log_url(other), ok).status_code == 404
    assert _count(desk.ws) == 0


# --- Roles ------------------------------------------------------------------------------------


def test_agents_log_but_neither_see_the_desk_nor_fulfil(desk):
    pr = _request(desk.ws, desk.debt.debtor)
    agent = login(desk.agent)
    for url in ("/w/acme/privacy/", _url(pr), "/w/acme/privacy/figures/", "/w/acme/privacy/export.csv"):
        assert agent.get(url).status_code == 403, url
    for tail in ("verify/", "start/", "close/", "export/", "erasure/plan/"):
        assert agent.post(_url(pr, tail), {"reason": "x", "outcome": "fulfilled"}).status_code == 403, tail
    assert _reload(pr).status == RequestStatus.VERIFIED
    # The debt page shows the agent the debtor's requests, without links to the desk.
    html = agent.get(f"/w/acme/debts/{desk.debt.pk}/").content.decode()
    assert pr.reference in html and _url(pr) not in html


ACTION_TAILS = [
    "verify/",
    "start/",
    "extend/",
    "close/",
    "authorisation/review/",
    "export/",
    "erasure/plan/",
    "erasure/approve/",
    "erasure/run/",
    "fulfil/",
    "rectify/",
]


def test_auditors_read_everything_and_every_post_is_403(desk):
    pr = _request(desk.ws, desk.debt.debtor)
    auditor = login(desk.auditor)
    for url in (
        "/w/acme/privacy/",
        _url(pr),
        "/w/acme/privacy/figures/",
        "/w/acme/privacy/settings/",
        "/w/acme/privacy/export.csv",
    ):
        assert auditor.get(url).status_code == 200, url
    page = auditor.get(_url(pr)).content.decode()
    assert 'data-testid="actions"' not in page  # read-only: no action forms
    assert auditor.get(_url(pr, "authorisation/file/")).status_code == 403
    for tail in ACTION_TAILS:
        assert auditor.post(_url(pr, tail), {"reason": "x", "outcome": "fulfilled"}).status_code == 403, tail
    assert auditor.post("/w/acme/privacy/settings/", {"contact_name": "Eve"}).status_code == 403
    ok = {"type": "access", "channel": "phone", "received_on": "2026-11-23", "identity_check": "phone_dob"}
    assert auditor.post(_log_url(desk.debt), ok).status_code == 403
    assert _reload(pr).status == RequestStatus.VERIFIED and _count(desk.ws) == 1


def test_the_workspace_nav_links_the_desk_for_those_who_may_see_it(desk):
    link = 'href="/w/acme/privacy/"'
    assert link in login(desk.manager).get("/w/acme/debts/").content.decode()
    assert link in login(desk.auditor).get("/w/acme/debts/").content.decode()
    assert link not in login(desk.agent).get("/w/acme/debts/").content.decode()
    assert link not in login(desk.client_user).get("/w/acme/debts/").content.decode()


# --- The queue ----------------------------------------------------------------------------------


@pytest.fixture
def queue(desk):
    """Four open requests and a closed one, at different points of their 30 days."""
    debtor = desk.debt.debtor
    overdue = _request(desk.ws, debtor, days_ago=35, type="erasure")  # due 2026-11-18: 5 days ago
    soon = _request(desk.ws, debtor, days_ago=25, type="access", channel="email")  # due 2026-11-28: 5 days
    later = _request(desk.ws, debtor, days_ago=2, type="objection", channel="letter")  # 28 days
    waiting = _request(desk.ws, None, type="access", channel="web", verified=False)
    with workspace_context(desk.ws):
        waiting = privacy_request_transition(request=waiting, to=RequestStatus.AWAITING_VERIFICATION)
    closed = _request(desk.ws, debtor, days_ago=10, type="grievance")
    with workspace_context(desk.ws):
        privacy_request_transition(request=closed, to=RequestStatus.FULFILLED, reason="Answered by letter.")
    return SimpleNamespace(overdue=overdue, soon=soon, later=later, waiting=waiting, closed=closed)


def _references(html: str) -> list[str]:
    body = html.split('data-testid="desk-queue"', 1)[1]
    return [part.split('"', 1)[0] for part in body.split('<tr data-reference="')[1:]]


def test_the_queue_puts_the_most_urgent_first_and_highlights_overdue_and_due_soon(desk, queue):
    r = login(desk.manager).get("/w/acme/privacy/")
    assert r.status_code == 200
    html = r.content.decode()
    assert _references(html) == [
        queue.overdue.reference,
        queue.soon.reference,
        queue.later.reference,
        queue.waiting.reference,
    ]
    assert f'<tr data-reference="{queue.overdue.reference}" data-urgency="overdue">' in html
    assert f'<tr data-reference="{queue.soon.reference}" data-urgency="soon">' in html
    assert f'<tr data-reference="{queue.later.reference}" data-urgency="">' in html
    assert "overdue by 5 days" in html and "5 days left" in html and "28 days left" in html
    assert "waits for verification" in html
    assert "<strong>4</strong> open requests" in html and "1 overdue" in html and "1 due within 7 days" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("type=erasure", ["overdue"]),
        ("channel=email", ["soon"]),
        ("status=closed", ["closed"]),
        ("status=awaiting_verification", ["waiting"]),
        ("status=all", ["overdue", "soon", "later", "waiting", "closed"]),
        ("due=overdue", ["overdue"]),
        ("due=soon", ["soon"]),
        ("type=nonsense", ["overdue", "soon", "later", "waiting"]),
    ],
)
def test_the_queue_filters(desk, queue, query, expected):
    html = login(desk.manager).get(f"/w/acme/privacy/?{query}").content.decode()
    assert set(_references(html)) == {getattr(queue, name).reference for name in expected}


def test_search_by_reference_in_any_case_with_or_without_its_prefix(desk, queue):
    manager = login(desk.manager)
    for q in (queue.later.reference, queue.later.reference.lower(), queue.later.reference[3:]):
        assert _references(manager.get("/w/acme/privacy/", {"q": q}).content.decode()) == [queue.later.reference]


def test_the_queue_pages_without_counting(desk, monkeypatch):
    monkeypatch.setattr("privacy_requests.selectors.DESK_PAGE_SIZE", 2)
    made = [_request(desk.ws, desk.debt.debtor, days_ago=n) for n in range(5)]
    manager = login(desk.manager)
    first = manager.get("/w/acme/privacy/").content.decode()
    assert _references(first) == [made[4].reference, made[3].reference] and 'rel="next"' in first
    last = manager.get("/w/acme/privacy/?page=3").content.decode()
    assert _references(last) == [made[0].reference] and 'rel="next"' not in last and 'rel="prev"' in last


def test_an_empty_desk_says_where_requests_come_from(desk):
    html = login(desk.manager).get("/w/acme/privacy/").content.decode()
    assert 'data-testid="desk-empty"' in html and "No open privacy requests" in html
    assert "/privacy/acme/requests/new/" in html and "POST /api/v1/privacy-requests/" in html
    filtered = login(desk.manager).get("/w/acme/privacy/?type=erasure").content.decode()
    assert "No request matches" in filtered


def test_the_csv_export_has_no_personal_data_and_is_audited(desk, queue):
    r = login(desk.manager).get("/w/acme/privacy/export.csv?status=all")
    assert r.status_code == 200 and r["Content-Type"] == "text/csv"
    assert 'filename="privacy-requests-acme-2026-11-23.csv"' in r["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0][:3] == ["reference", "type", "status"] and len(rows) == 6
    overdue = next(row for row in rows if row[0] == queue.overdue.reference)
    assert overdue[1:4] == ["erasure", "verified", "phone"] and overdue[8] == "-5"
    assert overdue[6] == "2026-11-18T23:59:59+05:30"
    with workspace_context(desk.ws):
        event = AuditEvent.objects.get(action=actions.PRIVACY_REQUESTS_EXPORTED)
    assert event.actor_user_id == desk.manager.pk and event.metadata == {"rows": 5, "filters": ["status"]}


# --- The request page -------------------------------------------------------------------------


def test_the_request_page_shows_the_timeline_verification_and_masked_codes(desk):
    pr = _request(desk.ws, desk.debt.debtor, type="access", channel="web", verified=False, requester_name="Asha Rao")
    with workspace_context(desk.ws):
        privacy_request_transition(request=pr, to=RequestStatus.AWAITING_VERIFICATION)
        VerificationCode.objects.create(
            workspace=desk.ws,
            request=pr,
            code_hash="0" * 64,
            channel="email",
            sent_to_masked="a***@example.com",
            expires_at=NOW + timedelta(minutes=10),
            attempts=1,
        )
    manager = login(desk.manager)
    html = manager.get(_url(pr)).content.decode()
    assert "a***@example.com" in html and "valid until" in html
    assert "The clock starts when the person" in html
    assert 'data-kind="received"' in html and "received → awaiting_verification" in html
    assert "Asha Rao" in html
    # Reading what the requester typed is recorded.
    with workspace_context(desk.ws):
        read = AuditEvent.objects.filter(action=actions.PERSONAL_DATA_READ, object_id=str(pr.pk)).get()
    assert read.metadata["fields"] == ["requester_name"]

    r = manager.post(_url(pr, "verify/"), {"method": "document"})
    assert r.status_code == 302
    pr = _reload(pr)
    assert pr.status == RequestStatus.VERIFIED and pr.verification_method == "document seen: passport/ID card"
    assert pr.clock_started_at == NOW and pr.due_at == datetime(2026, 12, 23, 23, 59, 59, tzinfo=IST)
    html = manager.get(_url(pr)).content.decode()
    assert "document seen: passport/ID card" in html


def test_verify_by_hand_needs_how(desk):
    pr = _request(desk.ws, desk.debt.debtor, verified=False)
    r = login(desk.manager).post(_url(pr, "verify/"), {"method": ""})
    assert r.status_code == 400 and "This field is required." in r.content.decode()
    assert _reload(pr).status == RequestStatus.RECEIVED


def test_start_and_close_with_a_reason(desk):
    pr = _request(desk.ws, desk.debt.debtor, type="grievance")
    manager = login(desk.manager)
    assert manager.post(_url(pr, "start/")).status_code == 302
    assert _reload(pr).status == RequestStatus.IN_PROGRESS
    r = manager.post(_url(pr, "close/"), {"outcome": "fulfilled", "reason": ""})
    assert r.status_code == 400 and "This field is required." in r.content.decode()
    r = manager.post(_url(pr, "close/"), {"outcome": "verified", "reason": "x"})
    assert r.status_code == 400 and "Select a valid choice." in r.content.decode()
    assert manager.post(_url(pr, "close/"), {"outcome": "fulfilled", "reason": "Answered by phone."}).status_code == 302
    pr = _reload(pr)
    assert pr.status == RequestStatus.FULFILLED and pr.outcome == "Answered by phone." and pr.closed_at == NOW
    # Closed: nothing more is offered, and a late action is refused.
    assert 'data-testid="actions"' not in manager.get(_url(pr)).content.decode()
    assert manager.post(_url(pr, "start/")).status_code == 400


def test_extension_where_the_profile_allows_it(world, monkeypatch):
    us_now = datetime(2026, 11, 23, 11, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    monkeypatch.setattr("django.utils.timezone.now", lambda: us_now)
    with workspace_context(world.b):
        debt = make_debt(world.b)
        pr = privacy_request_create(
            workspace=world.b, type="access", channel="phone", debtor=debt.debtor, verified_by="DOB"
        )
    bob = login(world.bob)
    url = f"/w/globex/privacy/requests/{pr.pk}/"
    r = bob.post(url + "extend/", {"reason": ""})
    assert r.status_code == 400 and "This field is required." in r.content.decode()
    assert bob.post(url + "extend/", {"reason": "Many records across three systems."}).status_code == 302
    with workspace_context(world.b):
        pr = PrivacyRequest.objects.get(pk=pr.pk)
    assert pr.extended_due_at is not None and pr.extended_due_at > pr.due_at
    html = bob.get(url).content.decode()
    assert "Extended from" in html and "Many records across three systems." in html
    # Once only.
    assert "Extend the deadline" not in html
    assert bob.post(url + "extend/", {"reason": "again"}).status_code == 400


def test_india_offers_no_extension(desk):
    pr = _request(desk.ws, desk.debt.debtor)
    manager = login(desk.manager)
    assert "Extend the deadline" not in manager.get(_url(pr)).content.decode()
    r = manager.post(_url(pr, "extend/"), {"reason": "busy"})
    assert r.status_code == 400 and "does not offer that action" in r.content.decode()
    assert _reload(pr).extended_due_at is None


# --- A representative's authorisation ---------------------------------------------------------


def _with_authorisation(desk, private_storage) -> tuple[PrivacyRequest, bytes]:
    pr = _request(desk.ws, desk.debt.debtor, type="access")
    content = b"%PDF-1.4 power of attorney"
    with workspace_context(desk.ws):
        # What the public intake records for a representative (its own work, not the desk's).
        pr.representative_name = "Ravi (son)"
        pr.authorisation_status = "pending"
        pr.save(update_fields=["representative_name", "authorisation_status"])
        name = f"privacy/{pr.pk}/authorisation.bin"
        blob = blob_encrypt(
            content, workspace_id=desk.ws.pk, subject_type="debtor", subject_id=str(pr.debtor_id), purpose=name
        )
        default_storage.save(name, ContentFile(blob))
        RequestFile.objects.create(
            workspace=desk.ws, request=pr, kind=FileKind.AUTHORISATION, storage_name=name, size_bytes=len(blob)
        )
    return _reload(pr), content


def test_reviewers_download_the_authorisation_audited_and_approve_it(desk, private_storage):
    pr, content = _with_authorisation(desk, private_storage)
    manager = login(desk.manager)
    html = manager.get(_url(pr)).content.decode()
    assert "Download the authorisation" in html and "Pending review" in html
    # Nothing of the person is sent before the authorisation is approved.
    assert "Build the copy" not in html
    r = manager.get(_url(pr, "authorisation/file/"))
    assert r.status_code == 200 and r.content == content and r["Cache-Control"] == "no-store"
    with workspace_context(desk.ws):
        download = AuditEvent.objects.get(action=actions.PERSONAL_DATA_DOWNLOAD)
    assert download.actor_user_id == desk.manager.pk
    assert manager.post(_url(pr, "authorisation/review/"), {"decision": "approve"}).status_code == 302
    pr = _reload(pr)
    assert pr.authorisation_status == "approved"
    with workspace_context(desk.ws):
        assert AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_AUTHORISATION_REVIEWED).count() == 1
        assert PrivacyRequestEvent.objects.filter(request=pr, kind="authorisation").exists()
    assert "Build the copy" in manager.get(_url(pr)).content.decode()
    # Reviewed once.
    assert manager.post(_url(pr, "authorisation/review/"), {"decision": "reject", "reason": "x"}).status_code == 400


def test_rejecting_an_authorisation_needs_a_reason(desk, private_storage):
    pr, _ = _with_authorisation(desk, private_storage)
    manager = login(desk.manager)
    r = manager.post(_url(pr, "authorisation/review/"), {"decision": "reject", "reason": ""})
    assert r.status_code == 400 and "Say why the authorisation is rejected" in r.content.decode()
    assert _reload(pr).authorisation_status == "pending"
    assert (
        manager.post(_url(pr, "authorisation/review/"), {"decision": "reject", "reason": "Unsigned."}).status_code
        == 302
    )
    assert _reload(pr).authorisation_status == "rejected"


def test_without_an_authorisation_file_the_download_goes_back_to_the_request(desk):
    pr = _request(desk.ws, desk.debt.debtor)
    r = login(desk.manager).get(_url(pr, "authorisation/file/"))
    assert r.status_code == 302 and r["Location"] == _url(pr)


# --- Fulfilment by type (the fulfilment modules are other work: their calls are checked) ---------


class Calls(list):
    def __call__(self, **kwargs):
        self.append(kwargs)


def test_fulfilment_waits_for_verification(desk, monkeypatch):
    calls = Calls()
    monkeypatch.setattr(erasure, "erasure_plan", calls, raising=False)
    pr = _request(desk.ws, desk.debt.debtor, type="erasure", verified=False)
    manager = login(desk.manager)
    assert "Plan the erasure" not in manager.get(_url(pr)).content.decode()
    r = manager.post(_url(pr, "erasure/plan/"), {"reason": ""})
    assert r.status_code == 400 and "does not offer that action" in r.content.decode()
    assert calls == []


def test_build_copy_queues_the_export(desk, monkeypatch):
    calls = Calls()
    monkeypatch.setattr(exports, "export_queue", calls)
    pr = _request(desk.ws, desk.debt.debtor, type="portability")
    manager = login(desk.manager)
    assert "Build the machine-readable copy" in manager.get(_url(pr)).content.decode()
    assert manager.post(_url(pr, "export/")).status_code == 302
    assert [c["request"].pk for c in calls] == [pr.pk]
    # An erasure request offers no copy.
    other = _request(desk.ws, desk.debt.debtor, type="erasure")
    assert manager.post(_url(other, "export/")).status_code == 400 and len(calls) == 1


def test_erasure_plan_approve_run(desk, monkeypatch):
    planned, approved, queued = Calls(), Calls(), Calls()
    monkeypatch.setattr(erasure, "erasure_plan", planned, raising=False)
    monkeypatch.setattr(erasure, "erasure_approve", approved, raising=False)
    monkeypatch.setattr(erasure, "erasure_queue", queued, raising=False)
    pr = _request(desk.ws, desk.debt.debtor, type="erasure")
    manager = login(desk.manager)
    assert manager.post(_url(pr, "erasure/plan/"), {"reason": "asked by phone"}).status_code == 302
    assert planned[0]["debtor"].pk == desk.debt.debtor_id and planned[0]["request"].pk == pr.pk
    assert planned[0]["reason"] == "asked by phone" and planned[0]["actor"] == desk.manager
    with workspace_context(desk.ws):
        plan = ErasurePlan.objects.create(
            workspace=desk.ws, request=pr, debtor=desk.debt.debtor, plan={"debtors.debtor.email": "delete"}
        )
        other = _request(desk.ws, desk.debt.debtor, type="erasure")
        foreign_plan = ErasurePlan.objects.create(workspace=desk.ws, request=other, debtor=desk.debt.debtor)
    html = manager.get(_url(pr)).content.decode()
    assert "debtors.debtor.email" in html and "Approve this plan" in html
    assert manager.post(_url(pr, "erasure/approve/"), {"plan": str(plan.pk)}).status_code == 302
    assert approved == [{"plan": plan, "actor": desk.manager}]
    # Another request's plan is not this request's.
    assert manager.post(_url(pr, "erasure/approve/"), {"plan": str(foreign_plan.pk)}).status_code == 404
    assert manager.post(_url(pr, "erasure/run/"), {"plan": "not-a-uuid"}).status_code == 400
    assert manager.post(_url(pr, "erasure/run/"), {"plan": str(plan.pk)}).status_code == 302
    assert queued == [{"plan": plan}]


@pytest.mark.parametrize("kind", ["restriction", "objection", "withdrawal"])
def test_restriction_objection_withdrawal_apply_through_fulfilment(desk, monkeypatch, kind):
    calls = Calls()
    monkeypatch.setattr(fulfilment, f"{kind}_apply", calls, raising=False)
    pr = _request(desk.ws, desk.debt.debtor, type=kind)
    assert login(desk.manager).post(_url(pr, "fulfil/")).status_code == 302
    assert [(c["request"].pk, c["actor"]) for c in calls] == [(pr.pk, desk.manager)]


def test_rectification_prefills_the_proposal_and_applies_the_changes(desk, monkeypatch):
    calls = Calls()
    monkeypatch.setattr(fulfilment, "rectification_apply", calls, raising=False)
    pr = _request(desk.ws, desk.debt.debtor, type="rectification")
    with workspace_context(desk.ws):
        pr.rectification = json.dumps({"address": "12 MG Road, Pune", "favourite_colour": "blue"})
        pr.save(update_fields=["rectification"])
    manager = login(desk.manager)
    html = manager.get(_url(pr)).content.decode()
    assert 'value="12 MG Road, Pune"' in html and "blue" not in html
    r = manager.post(_url(pr, "rectify/"), {"email": "not-an-email"})
    assert r.status_code == 400 and "Enter a valid email address." in r.content.decode() and calls == []
    r = manager.post(_url(pr, "rectify/"), {})
    assert r.status_code == 400 and "Enter at least one correction." in r.content.decode()
    assert manager.post(_url(pr, "rectify/"), {"address": "12 MG Road, Pune", "phone": ""}).status_code == 302
    assert calls[0]["changes"] == {"address": "12 MG Road, Pune"} and calls[0]["request"].pk == pr.pk


# --- Figures -------------------------------------------------------------------------------------


def test_figures_by_type_and_month_median_and_on_time(desk):
    debtor = desk.debt.debtor
    early = _request(desk.ws, debtor, days_ago=62, type="access")  # September
    late = _request(desk.ws, debtor, days_ago=40, type="erasure")  # October; due 14 Nov
    _request(desk.ws, debtor, days_ago=1, type="access")  # November, open
    with workspace_context(desk.ws):
        PrivacyRequest.objects.filter(pk=early.pk).update(
            status="fulfilled", closed_at=early.received_at + timedelta(days=10)
        )
        PrivacyRequest.objects.filter(pk=late.pk).update(
            status="refused", closed_at=late.received_at + timedelta(days=36)
        )
    html = login(desk.manager).get("/w/acme/privacy/figures/").content.decode()
    assert '<p class="big-number" data-testid="median">23.0</p>' in html
    assert '<p class="big-number" data-testid="on-time">50%</p>' in html and "1 of 2 by the deadline" in html
    assert 'id="chart-requests-by-month-title"' in html and 'id="chart-requests-by-type-title"' in html
    # The numbers table: one row per month, one column per type that occurs.
    assert '<th scope="col" class="num">Access</th>' in html and '<th scope="col" class="num">Erasure</th>' in html
    assert (
        '<th scope="row">September 2026</th><td class="num">1</td><td class="num">0</td><td class="num">1</td>' in html
    )


def test_figures_without_requests_say_so(desk):
    html = login(desk.manager).get("/w/acme/privacy/figures/").content.decode()
    assert "No requests in the last 12 months" in html


# --- The privacy contact -------------------------------------------------------------------------


def test_managers_name_the_privacy_contact_and_indias_period(desk):
    manager = login(desk.manager)
    html = manager.get("/w/acme/privacy/settings/").content.decode()
    assert "Published grievance period" in html and "at most 90 days" in html
    data = {
        "contact_user": str(desk.manager.pk),
        "contact_name": "Meera Iyer, Grievance Officer",
        "contact_email": "grievance@acme.example",
        "contact_phone": "+91 20 1234 5678",
        "grievance_period_days": "120",
    }
    r = manager.post("/w/acme/privacy/settings/", data)
    assert r.status_code == 400 and "less than or equal to 90" in r.content.decode()
    r = manager.post("/w/acme/privacy/settings/", {**data, "contact_user": str(desk.client_user.pk)})
    assert r.status_code == 400 and "Select a valid choice" in r.content.decode()
    assert manager.post("/w/acme/privacy/settings/", {**data, "grievance_period_days": "15"}).status_code == 302
    with workspace_context(desk.ws):
        contact = PrivacyContact.objects.get()
        assert AuditEvent.objects.filter(action=actions.PRIVACY_CONTACT_CHANGED).count() == 1
    assert contact.contact_user_id == desk.manager.pk and contact.grievance_period_days == 15
    assert "15 days" in manager.get("/w/acme/privacy/settings/").content.decode()
    # New requests answer within the published period.
    pr = _request(desk.ws, desk.debt.debtor)
    assert pr.due_at == datetime(2026, 12, 8, 23, 59, 59, tzinfo=IST)


def test_outside_india_there_is_no_grievance_period_field(world, frozen):
    html = login(world.bob).get("/w/globex/privacy/settings/").content.decode()
    assert "Published grievance period" not in html and "45 days" in html


def test_the_privacy_contact_may_approve_an_erasure_plan_but_not_plan_one(desk, monkeypatch):
    approved = Calls()
    monkeypatch.setattr(erasure, "erasure_approve", approved, raising=False)
    with workspace_context(desk.ws):
        privacy_contact_save(
            workspace=desk.ws,
            contact_user=desk.auditor,
            contact_name="",
            contact_email="",
            contact_phone="",
            grievance_period_days=None,
        )
    pr = _request(desk.ws, desk.debt.debtor, type="erasure")
    with workspace_context(desk.ws):
        plan = ErasurePlan.objects.create(workspace=desk.ws, request=pr, debtor=desk.debt.debtor, plan={})
    officer = login(desk.auditor)
    html = officer.get(_url(pr)).content.decode()
    assert "Approve this plan" in html and "Plan the erasure" not in html
    assert officer.post(_url(pr, "erasure/plan/"), {"reason": ""}).status_code == 403
    assert officer.post(_url(pr, "erasure/approve/"), {"plan": str(plan.pk)}).status_code == 302
    assert approved == [{"plan": plan, "actor": desk.auditor}]


def test_the_real_erasure_plan_is_shown_field_by_field(desk):
    """With the erasure work's own planner (a dry run: nothing changes)."""
    pr = _request(desk.ws, desk.debt.debtor, type="erasure")
    manager = login(desk.manager)
    r = manager.post(_url(pr, "erasure/plan/"), {"reason": "asked by phone"})
    assert r.status_code == 302, r.content[:500]
    html = manager.get(_url(pr)).content.decode()
    assert 'data-testid="erasure-plans"' in html and "What it does, field by field" in html
    assert "Approve this plan" in html
    with workspace_context(desk.ws):
        assert ErasurePlan.objects.filter(request=pr).count() == 1


def test_dates_show_where_the_workspace_is(world, monkeypatch):
    """New York: a deadline at the end of 16 December is 17 December in UTC."""
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime(2026, 11, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    )
    with workspace_context(world.b):
        debt = make_debt(world.b)
        pr = privacy_request_create(
            workspace=world.b, type="access", channel="phone", debtor=debt.debtor, verified_by="DOB"
        )
    bob = login(world.bob)
    for url in ("/w/globex/privacy/", f"/w/globex/privacy/requests/{pr.pk}/"):
        html = bob.get(url).content.decode()
        assert "2026-12-16" in html or "Wed 16 Dec 2026" in html, url
        assert "2026-12-17" not in html and "Thu 17 Dec" not in html, url
    assert "45 days left" in bob.get(f"/w/globex/debts/{debt.pk}/").content.decode()


def test_a_restriction_applied_from_the_desk_is_real(desk):
    """With the fulfilment work's own service: the debtor is restricted and the
    request answered."""
    pr = _request(desk.ws, desk.debt.debtor, type="restriction")
    assert login(desk.manager).post(_url(pr, "fulfil/")).status_code == 302
    pr = _reload(pr)
    assert pr.status == RequestStatus.FULFILLED and pr.closed_at == NOW
    with workspace_context(desk.ws):
        desk.debt.debtor.refresh_from_db()
    assert desk.debt.debtor.processing_restricted is True


def test_the_queue_costs_the_same_queries_however_many_rows(desk):
    manager = login(desk.manager)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert manager.get("/w/acme/privacy/?status=all").status_code == 200
        return len(ctx.captured_queries)

    _request(desk.ws, desk.debt.debtor)
    queries()
    few = queries()
    for n in range(8):
        _request(desk.ws, desk.debt.debtor, days_ago=n, type="erasure", channel="email")
    assert queries() == few
