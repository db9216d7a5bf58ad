"""Gaps closed after the review of rights requests:

1. a representative whose authorisation is pending or rejected gets no copy;
2. codes and failed checks are capped per person across all their requests, and a
   debt reference typed to be found does not count as the knowledge check;
3. how identity was checked is a fixed label, never free text (it goes into the
   append-only audit trail);
4. ``erase_subject SLUG --debtor ID`` works without ``--reason`` and answers the
   debtor's open erasure request;
5. the erasure statement says what the audit trail keeps;
6. an unmatched request can be matched to a debtor on the desk."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse

from accounts.roles import Role
from audit import actions
from audit.models import AuditEvent
from debtors.models import Debt, Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.tenancy import workspace_context
from privacy_requests import exports, selectors, verification
from privacy_requests.erasure_statement import plan_text
from privacy_requests.forms_desk import workspace_today
from privacy_requests.models import (
    ErasurePlan,
    PlanStatus,
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestFile,
    RequestStatus,
    VerificationCode,
)
from privacy_requests.services import privacy_request_create, privacy_request_transition
from tests.conftest import World, add_member, login
from tests.privacy_requests.erasure_world import build_person
from tests.privacy_requests.intake_world import (
    code_from_mail,
    make_meera,
    request_by_reference,
    status_url,
    submit,
    verify_url,
)

WRONG = "That code or answer does not match our records, or the code has expired."
BEING_REVIEWED = "Your authorisation is being reviewed"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def meera(world: World) -> Debtor:
    return make_meera(world.a)


def _reload(pr: PrivacyRequest) -> PrivacyRequest:
    with workspace_context(pr.workspace):
        return PrivacyRequest.objects.get(pk=pr.pk)


def _events(pr: PrivacyRequest, kind: str) -> list[str]:
    with workspace_context(pr.workspace):
        return list(PrivacyRequestEvent.objects.filter(request=pr, kind=kind).values_list("reason", flat=True))


def _someone_else(world: World) -> Debtor:
    return debtor_create(
        workspace=world.a, data=DebtorInput(full_name="Someone Else", email="someone.else@example.com")
    )


def _web_request(world: World, debtor: Debtor | None, *, type: str = "access", **kw: Any) -> PrivacyRequest:
    """A request from the public page, waiting for verification (as intake leaves it)."""
    with workspace_context(world.a):
        pr = privacy_request_create(workspace=world.a, type=type, channel="web", debtor=debtor, **kw)
        return privacy_request_transition(request=pr, to=RequestStatus.AWAITING_VERIFICATION, reason="asked")


# --- 1. A representative's authorisation ----------------------------------------------------------


def _representative_request(world: World, debtor: Debtor, status: str) -> PrivacyRequest:
    with workspace_context(world.a):
        pr = privacy_request_create(
            workspace=world.a, type="access", channel="web", debtor=debtor, verified_by="test: identity confirmed"
        )
        pr.representative_name = "Ravi (son)"
        pr.authorisation_status = status
        pr.save(update_fields=["representative_name", "authorisation_status"])
    return _reload(pr)


class Delayed(list):
    def delay(self, *args: Any) -> None:
        self.append(args)


@pytest.mark.parametrize(("status", "queued"), [("pending", False), ("rejected", False), ("approved", True)])
def test_no_copy_is_queued_for_a_representative_until_approved(
    world, meera, monkeypatch, django_capture_on_commit_callbacks, status, queued
):
    builds = Delayed()
    monkeypatch.setattr(exports, "privacy_request_export_build", builds)
    pr = _representative_request(world, meera, status)
    assert exports.authorisation_cleared(pr) is queued
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        exports.export_queue(request=pr)
    assert len(builds) == int(queued)


def test_a_request_without_a_representative_is_queued(world, meera, monkeypatch, django_capture_on_commit_callbacks):
    builds = Delayed()
    monkeypatch.setattr(exports, "privacy_request_export_build", builds)
    with workspace_context(world.a):
        pr = privacy_request_create(
            workspace=world.a, type="access", channel="phone", debtor=meera, verified_by="test: identity confirmed"
        )
    assert pr.authorisation_status == "" and exports.authorisation_cleared(pr)
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        exports.export_queue(request=pr)
    assert len(builds) == 1


def _verified_browser(request: PrivacyRequest) -> HttpClient:
    browser = HttpClient()
    session = browser.session
    http_request = RequestFactory().get("/")
    http_request.session = session
    verification.session_mark_verified(http_request, request)
    session.save()
    return browser


def _download_url(pr: PrivacyRequest) -> str:
    return reverse("privacy_request_download", kwargs={"workspace_slug": "acme", "reference": pr.reference})


@pytest.mark.parametrize(
    ("status", "message"),
    [("pending", BEING_REVIEWED), ("rejected", "Your authorisation was not accepted")],
)
def test_a_representative_not_approved_cannot_download_the_copy(world, meera, private_storage, status, message):
    pr = _representative_request(world, meera, "approved")
    with workspace_context(world.a):
        file = exports.export_build(request=pr)  # built while approved (or by any other path)
        PrivacyRequest.objects.filter(pk=pr.pk).update(authorisation_status=status)
    pr = _reload(pr)
    browser = _verified_browser(pr)
    response = browser.get(_download_url(pr))
    assert response.status_code == 302 and response["Location"] == status_url(pr.reference)
    page = browser.get(response["Location"]).content.decode()
    assert message in page
    with workspace_context(world.a):
        stored = RequestFile.objects.get(pk=file.pk)
    assert stored.download_token_hash == "" and stored.downloaded_at is None  # no link was issued
    assert exports.export_download_link_issue(request=pr) is None
    assert _reload(pr).status == RequestStatus.IN_PROGRESS  # built, never downloaded


def test_a_link_issued_before_the_authorisation_was_rejected_does_not_work(world, meera, private_storage):
    pr = _representative_request(world, meera, "approved")
    with workspace_context(world.a):
        exports.export_build(request=pr)
    browser = _verified_browser(pr)
    link = browser.get(_download_url(pr))["Location"]
    assert link.startswith("/privacy/acme/downloads/")
    with workspace_context(world.a):
        PrivacyRequest.objects.filter(pk=pr.pk).update(authorisation_status="rejected")
    assert browser.get(link).status_code == 404
    assert _reload(pr).status == RequestStatus.IN_PROGRESS  # built, never downloaded


def test_an_approved_representative_downloads(world, meera, private_storage):
    pr = _representative_request(world, meera, "approved")
    with workspace_context(world.a):
        exports.export_build(request=pr)
    browser = _verified_browser(pr)
    link = browser.get(_download_url(pr))["Location"]
    response = browser.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


# --- 2. Limits per person, and the reference they were found by ------------------------------------


def test_codes_are_capped_per_person_across_requests(world, meera, django_capture_on_commit_callbacks):
    requests = [_web_request(world, meera) for _ in range(verification.MAX_CODES_PER_PERSON_PER_HOUR + 1)]
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        sent = [verification.code_send(request=pr) for pr in requests]
    assert sent == [True] * verification.MAX_CODES_PER_PERSON_PER_HOUR + [False]
    with workspace_context(world.a):
        assert VerificationCode.objects.filter(request__debtor=meera).count() == 5
    assert len([m for m in mail.outbox if "meera@example.com" in m.to]) == 5
    assert any("too many codes this hour for this person" in r for r in _events(requests[-1], "code_withheld"))
    # Another person is not affected.
    with workspace_context(world.a):
        other = _someone_else(world)
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        assert verification.code_send(request=_web_request(world, other)) is True


def test_failures_are_capped_per_person_and_answered_like_a_wrong_code(
    world, meera, django_capture_on_commit_callbacks
):
    # Ten failures spread over requests, none over the per-request limit of five.
    spread = [4, 4, 2]
    assert sum(spread) == verification.MAX_FAILURES_PER_PERSON_PER_HOUR
    with workspace_context(world.a):
        for tries in spread:
            pr = _web_request(world, meera)
            for _ in range(tries):
                result = verification.code_check(
                    request=pr, code="000000", knowledge="date_of_birth", answer="1990-05-17"
                )
                assert result == verification.CheckResult.WRONG
    fresh = _web_request(world, meera)
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        assert verification.code_send(request=fresh) is True
    code = code_from_mail("meera@example.com")
    with workspace_context(world.a):
        result = verification.code_check(request=fresh, code=code, knowledge="date_of_birth", answer="1990-05-17")
    # The right code and answer are refused — with the answer a wrong code gets (no
    # lock only a matched person could reach: that would tell whether details match).
    assert result == verification.CheckResult.WRONG
    assert _reload(fresh).status == RequestStatus.AWAITING_VERIFICATION
    assert any("too many failures for this person" in r for r in _events(fresh, "code_failed"))


def test_failures_of_someone_else_do_not_count(world, meera, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        other = _someone_else(world)
        for _ in range(2):
            pr = _web_request(world, other)
            for _ in range(5):
                verification.code_check(request=pr, code="000000", knowledge="date_of_birth", answer="x")
    mine = _web_request(world, meera)
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        verification.code_send(request=mine)
    code = code_from_mail("meera@example.com")
    with workspace_context(world.a):
        result = verification.code_check(request=mine, code=code, knowledge="date_of_birth", answer="1990-05-17")
    assert result == verification.CheckResult.VERIFIED


def _verify(http, reference, code, knowledge, answer):
    return http.post(verify_url(reference), {"code": code, "knowledge": knowledge, "answer": answer})


def test_the_reference_typed_to_be_found_is_no_knowledge_check(world, meera, django_capture_on_commit_callbacks):
    http = HttpClient()
    _, reference = submit(http, django_capture_on_commit_callbacks, identifier="PAY-1")
    code = code_from_mail("meera@example.com")
    pr = request_by_reference(world.a, reference)
    with workspace_context(world.a):
        debt = Debt.objects.get(reference="PAY-1")
    assert any(f"{verification.FOUND_BY_MARK} {debt.pk}" in r for r in _events(pr, "status"))
    response = _verify(http, reference, code, "debt_reference", "PAY-1")
    assert response.status_code == 400 and WRONG in response.content.decode()  # the same answer as any failure
    assert request_by_reference(world.a, reference).status == RequestStatus.AWAITING_VERIFICATION
    # Something they did not type counts.
    response = _verify(http, reference, code, "date_of_birth", "1990-05-17")
    assert response.status_code == 302
    assert request_by_reference(world.a, reference).status == RequestStatus.VERIFIED


def test_a_debt_reference_still_counts_when_found_by_email(world, meera, django_capture_on_commit_callbacks):
    http = HttpClient()
    _, reference = submit(http, django_capture_on_commit_callbacks, identifier="meera@example.com")
    code = code_from_mail("meera@example.com")
    assert not any(verification.FOUND_BY_MARK in r for r in _events(request_by_reference(world.a, reference), "status"))
    assert _verify(http, reference, code, "debt_reference", "PAY-1").status_code == 302
    assert request_by_reference(world.a, reference).status == RequestStatus.VERIFIED


# --- 3. How identity was checked: fixed labels only ---------------------------------------------------

FREE_TEXT = "caller gave DOB 17/05/1990 and phone 3210"


def _audit_texts(world: World) -> str:
    with workspace_context(world.a):
        return " ".join(str(m) for m in AuditEvent.objects.values_list("metadata", flat=True))


def test_verify_by_hand_records_a_fixed_label_not_free_text(world, meera):
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    pr = _web_request(world, meera)
    http = login(manager)
    url = f"/w/acme/privacy/requests/{pr.pk}/"
    page = http.get(url).content.decode()
    assert '<select name="method"' in page and "document seen: passport/ID card" in page
    refused = http.post(url + "verify/", {"method": FREE_TEXT})
    assert refused.status_code == 400 and "Select a valid choice." in refused.content.decode()
    assert _reload(pr).status == RequestStatus.AWAITING_VERIFICATION

    assert http.post(url + "verify/", {"method": "document"}).status_code == 302
    pr = _reload(pr)
    assert pr.status == RequestStatus.VERIFIED and pr.verification_method == "document seen: passport/ID card"
    with workspace_context(world.a):
        verified = AuditEvent.objects.get(action=actions.PRIVACY_REQUEST_VERIFIED, object_id=str(pr.pk))
    assert verified.metadata["method"] == "document seen: passport/ID card"
    assert "17/05/1990" not in _audit_texts(world)


def test_logging_on_the_debt_page_records_a_fixed_label_not_free_text(world, meera):
    with workspace_context(world.a):
        debt = meera_debt(meera)
    http = login(add_member(world.a, "manager@example.com", Role.MANAGER))
    url = f"/w/acme/privacy/debts/{debt.pk}/requests/"
    good = {"type": "access", "channel": "phone", "received_on": _today(world), "identity_check": "phone_dob"}
    refused = http.post(url, {**good, "identity_check": FREE_TEXT})
    assert refused.status_code == 400 and "Select a valid choice." in refused.content.decode()
    assert http.post(url, good).status_code == 302
    with workspace_context(world.a):
        pr = PrivacyRequest.objects.get(debtor=meera)
        received = PrivacyRequestEvent.objects.get(request=pr, kind="received")
    assert pr.verification_method == "checked by phone: date of birth"
    assert received.reason.endswith("identity: checked by phone: date of birth")
    assert "17/05/1990" not in _audit_texts(world)


def meera_debt(meera: Debtor) -> Debt:
    return Debt.objects.for_workspace(meera.workspace_id).get(debtor=meera)


def _today(world: World) -> str:
    return workspace_today(world.a).isoformat()


# --- 4 and 5. erase_subject without --reason; the statement about the audit trail -------------------

DEFAULT_REASON = "operator erasure (court order or regulator's instruction)"


def _run(*args: str) -> str:
    out = StringIO()
    call_command("erase_subject", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_erase_subject_without_a_reason_uses_the_default_and_closes_the_open_request(world, private_storage):
    with workspace_context(world.a):
        person = build_person(world.a, with_request=True)
    assert person.request is not None and person.request.status == RequestStatus.VERIFIED
    out = _run("acme", "--debtor", str(person.debtor.pk))
    assert f"Reason: {DEFAULT_REASON}" in out
    assert f"Answers erasure request {person.request.reference}" in out
    with workspace_context(world.a):
        plan = ErasurePlan.objects.get(debtor_id=person.debtor.pk)
        approved = AuditEvent.objects.get(action=actions.ERASURE_APPROVED, object_id=str(plan.pk))
    assert plan.status == PlanStatus.DONE and plan.reason == DEFAULT_REASON
    assert plan.request_id == person.request.pk
    assert approved.metadata["operator"] is True and approved.metadata["reason"] == DEFAULT_REASON
    request = _reload(person.request)
    assert request.status in (RequestStatus.FULFILLED, RequestStatus.PARTLY_FULFILLED)

    # 5: the statement says what the audit trail keeps, and under which law.
    text = plan.statement["text"]
    assert "holds no plaintext personal data" not in text
    assert "IP address and browser" in text and "at least 1 year" in text
    assert "GDPR Art. 5(2) accountability" in text and "DPDP Rules r.8(3)" in text
    assert plan.statement["audit"] in text
    assert "holds no plaintext" not in plan_text(plan.plan) and "IP address and browser" in plan_text(plan.plan)


def test_erase_subject_leaves_an_unverified_request_open_and_says_so(world, private_storage):
    with workspace_context(world.a):
        person = build_person(world.a, with_request=False)
    pr = _web_request(world, person.debtor, type="erasure")
    out = _run("acme", "--debtor", str(person.debtor.pk), "--reason", "Court order 7/2026")
    assert "Reason: Court order 7/2026" in out and "Erased: plan" in out
    assert f"Erasure request {pr.reference} (awaiting verification) is still open" in out
    with workspace_context(world.a):
        plan = ErasurePlan.objects.get(debtor_id=person.debtor.pk)
    assert plan.request_id is None and _reload(pr).status == RequestStatus.AWAITING_VERIFICATION


def test_erase_subject_dry_run_needs_no_reason_and_changes_nothing(world, private_storage):
    with workspace_context(world.a):
        person = build_person(world.a, with_request=True)
    out = _run("acme", "--debtor", str(person.debtor.pk), "--dry-run")
    assert "Dry run: nothing was changed." in out
    with workspace_context(world.a):
        assert not ErasurePlan.objects.filter(debtor_id=person.debtor.pk).exists()
    assert _reload(person.request).status == RequestStatus.VERIFIED


# --- 6. Match to a debtor --------------------------------------------------------------------------


def test_an_unmatched_request_offers_match_and_a_matched_one_does_not(world, meera):
    unmatched = _web_request(world, None)
    matched = _web_request(world, meera)
    assert "match" in selectors.available_actions(request=unmatched, workspace=world.a)
    assert "match" not in selectors.available_actions(request=matched, workspace=world.a)


@pytest.mark.parametrize("query", ["meera@example.com", "+91 98765 43210", "PAY-1"])
def test_staff_match_an_unmatched_request_to_a_debtor(world, meera, django_capture_on_commit_callbacks, query):
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    pr = _web_request(world, None, requester_contact="meera@example.com")
    http = login(manager)
    url = f"/w/acme/privacy/requests/{pr.pk}/"
    page = http.get(url).content.decode()
    assert 'data-testid="match"' in page and "Match to a debtor" in page

    found = http.post(url + "match/search/", {"q": query})
    html = found.content.decode()
    assert found.status_code == 200 and 'data-testid="match-candidates"' in html
    assert f'data-debtor="{meera.pk}"' in html and "Meera Iyer" in html and "PAY-1" in html
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action=actions.PERSONAL_DATA_READ, object_id=str(meera.pk)).exists()
    assert _reload(pr).debtor_id is None  # searching changes nothing

    assert http.post(url + "match/", {"debtor": str(meera.pk)}).status_code == 302
    pr = _reload(pr)
    assert pr.debtor_id == meera.pk and pr.status == RequestStatus.AWAITING_VERIFICATION
    assert any(str(meera.pk) in r for r in _events(pr, "matched"))
    with workspace_context(world.a):
        audit = AuditEvent.objects.get(action=actions.PRIVACY_REQUEST_MATCHED, object_id=str(pr.pk))
    assert audit.metadata["debtor"] == str(meera.pk) and audit.actor_user_id == manager.pk
    assert 'data-testid="match"' not in http.get(url).content.decode()
    assert http.post(url + "match/", {"debtor": str(meera.pk)}).status_code == 400  # once

    # Now a code goes to the contact on file.
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        assert verification.code_send(request=pr) is True
    assert re.search(r"\b\d{6}\b", str(mail.outbox[-1].body)) and mail.outbox[-1].to == ["meera@example.com"]


def test_matching_finds_only_exact_values_and_only_in_the_workspace(world, meera):
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    pr = _web_request(world, None)
    http = login(manager)
    url = f"/w/acme/privacy/requests/{pr.pk}/"
    for query in ("meera@example", "Meera", "PAY"):
        html = http.post(url + "match/search/", {"q": query}).content.decode()
        assert 'data-testid="match-none"' in html and "Meera Iyer" not in html
    empty = http.post(url + "match/search/", {"q": ""})
    assert empty.status_code == 400 and "This field is required." in empty.content.decode()
    with workspace_context(world.b):
        outsider = make_meera(world.b, email="orville@example.com")
    refused = http.post(url + "match/", {"debtor": str(outsider.pk)})
    assert refused.status_code == 400 and "No such debtor." in refused.content.decode()
    assert _reload(pr).debtor_id is None


def test_only_privacy_managers_match(world, meera):
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(world.a, "auditor@example.com", Role.AUDITOR)
    pr = _web_request(world, None)
    url = f"/w/acme/privacy/requests/{pr.pk}/"
    for user in (agent, auditor):
        http = login(user)
        assert http.post(url + "match/search/", {"q": "meera@example.com"}).status_code == 403
        assert http.post(url + "match/", {"debtor": str(meera.pk)}).status_code == 403
    assert 'data-testid="match"' not in login(auditor).get(url).content.decode()
    assert _reload(pr).debtor_id is None


def test_a_closed_request_offers_no_match(world, meera):
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    pr = _web_request(world, None)
    with workspace_context(world.a):
        privacy_request_transition(request=pr, to=RequestStatus.REFUSED, reason="no one matched")
    response = login(manager).post(f"/w/acme/privacy/requests/{pr.pk}/match/", {"debtor": str(meera.pk)})
    assert response.status_code == 400 and "does not offer that action" in response.content.decode()
