"""Intake: the public page per workspace (English and Hindi, no enumeration, codes
only to contacts on file, representatives' authorisations stored encrypted), the
links to it, and a signed-in user's "download my data" / "delete my account"."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from audit import actions
from audit.models import AuditEvent
from communications.sms import LoggingSmsProvider
from kernel.crypto.blobs import blob_decrypt
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from privacy_requests import exports
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import (
    FileKind,
    PrivacyRequest,
    RequestChannel,
    RequestFile,
    RequestStatus,
    SubjectType,
    VerificationCode,
)
from tests.conftest import PASSWORD, login
from tests.debtors.factories import make_debt
from tests.privacy_requests.intake_world import NEW, REFERENCE_RE, make_meera, request_data, submit

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    LoggingSmsProvider.outbox.clear()
    yield
    cache.clear()


@pytest.fixture
def copies(monkeypatch):
    """Export builds are the export work's; here we only see that one was queued."""
    queued: list[str] = []
    monkeypatch.setattr(exports, "export_queue", lambda *, request: queued.append(request.reference))
    return queued


@pytest.fixture
def meera(world):
    return make_meera(world.a)


def _requests(workspace):
    with workspace_context(workspace):
        return list(PrivacyRequest.objects.all())


# --- The page -------------------------------------------------------------------------


def test_the_page_renders_in_english_and_hindi_with_the_privacy_contact(world):
    with workspace_context(world.a):
        privacy_contact_save(
            workspace=world.a,
            contact_user=None,
            contact_name="Priya Nair",
            contact_email="grievance@acme.example",
            contact_phone="+91 22 4000 1000",
            grievance_period_days=None,
        )
    page = HttpClient().get(NEW)
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    assert "Ask about your personal data" in html and '<html lang="en">' in html
    for value in ("access", "portability", "rectification", "erasure", "restriction", "objection"):
        assert f'value="{value}"' in html
    for value in ("withdrawal", "nomination", "grievance"):
        assert f'value="{value}"' in html
    assert "Get my data in a file I can take elsewhere" in html  # plain language, with help
    assert "Priya Nair" in html and "grievance@acme.example" in html and "+91 22 4000 1000" in html

    hindi = HttpClient().get(NEW, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert '<html lang="hi">' in hindi
    assert "अपने व्यक्तिगत डेटा के बारे में पूछें" in hindi and "मेरा अनुरोध भेजें" in hindi
    assert "Acme Collections के निजता संपर्क अधिकारी: Priya Nair" in hindi
    assert "Ask about your personal data" not in hindi and "Send my request" not in hindi


def test_without_a_privacy_contact_the_page_names_the_workspace(world):
    html = HttpClient().get(NEW).content.decode()
    assert "This page is run by Acme Collections." in html


def test_an_unknown_workspace_is_404(world):
    assert HttpClient().get("/privacy/no-such-agency/requests/new/").status_code == 404
    assert HttpClient().post("/privacy/no-such-agency/requests/new/", request_data()).status_code == 404


def test_another_workspaces_reference_is_404_on_every_request_route(world, meera, django_capture_on_commit_callbacks):
    _, reference = submit(HttpClient(), django_capture_on_commit_callbacks)
    http = HttpClient()
    for url in (f"/privacy/globex/requests/{reference}/", f"/privacy/globex/requests/{reference}/verify/"):
        assert http.get(url).status_code == 404
    assert http.post(f"/privacy/globex/requests/{reference}/verify/", {"code": "123456"}).status_code == 404
    assert http.post(f"/privacy/globex/requests/{reference}/new-code/").status_code == 404
    assert http.get("/privacy/acme/requests/PR-2222222/").status_code == 404


# --- No enumeration ---------------------------------------------------------------------


def _normalised(html: str, reference: str) -> str:
    html = html.replace(reference, "PR-XXXXXX")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', html)


def test_matched_and_unmatched_requests_get_the_same_answer(world, meera, django_capture_on_commit_callbacks):
    submit(HttpClient(), django_capture_on_commit_callbacks, identifier="PAY-999")  # keys made once, not compared
    mail.outbox.clear()
    answers, queries = [], []
    for identifier in ("PAY-1", "PAY-404"):
        http = HttpClient()
        # The web request alone: the code task waits for the commit.
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks() as callbacks:
            response = http.post(NEW, request_data(identifier=identifier))
        found = REFERENCE_RE.search(response.content.decode())
        assert found is not None
        reference = found.group(0)
        answers.append((response.status_code, _normalised(response.content.decode(), reference)))
        queries.append(len(ctx.captured_queries))
        assert len(callbacks) == 1  # the same task queued either way
        with django_capture_on_commit_callbacks(execute=True):  # now the worker's turn
            for callback in callbacks:
                callback()
    (status_matched, matched), (status_unmatched, unmatched) = answers
    assert status_matched == status_unmatched == 200
    assert matched == unmatched
    assert "If we hold data about you, we have sent a one-time code" in matched
    assert queries[0] == queries[1]
    assert [m.to for m in mail.outbox] == [["meera@example.com"]]  # only the matched one got a code

    matched_request, unmatched_request, _ = sorted(
        _requests(world.a), key=lambda r: (r.debtor_id is None, r.created_at)
    )
    assert matched_request.debtor_id == meera.pk and unmatched_request.debtor_id is None
    assert {matched_request.status, unmatched_request.status} == {RequestStatus.AWAITING_VERIFICATION}
    assert matched_request.channel == RequestChannel.WEB
    with workspace_context(world.a):
        reasons = list(unmatched_request.events.values_list("reason", flat=True))
        assert any("no one matched" in r for r in reasons)
        assert not VerificationCode.objects.filter(request=unmatched_request).exists()
        assert AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_CODE_WITHHELD).count() == 2
        assert AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_CODE_SENT).count() == 1


def test_the_code_goes_to_the_email_on_file_never_to_the_typed_address(
    world, meera, django_capture_on_commit_callbacks
):
    submit(HttpClient(), django_capture_on_commit_callbacks, contact="attacker@example.net", identifier="PAY-1")
    assert [m.to for m in mail.outbox] == [["meera@example.com"]]
    assert "attacker@example.net" not in mail.outbox[0].body
    assert re.search(r"\b\d{6}\b", str(mail.outbox[0].body))
    # Typing the person's email finds them too; the code still goes only to what is on file.
    mail.outbox.clear()
    submit(HttpClient(), django_capture_on_commit_callbacks, contact="+44 7700 900123", identifier="meera@example.com")
    assert [m.to for m in mail.outbox] == [["meera@example.com"]]
    assert LoggingSmsProvider.outbox == []


def test_with_no_email_on_file_the_code_goes_by_sms_to_the_phone_on_file(world, django_capture_on_commit_callbacks):
    make_meera(world.a, email=None)
    submit(HttpClient(), django_capture_on_commit_callbacks, contact="+91 90000 00000")
    assert mail.outbox == []
    (sms,) = LoggingSmsProvider.outbox
    assert sms["to"] == "+919876543210" and re.search(r"\b\d{6}\b", sms["body"])


def test_two_people_behind_the_details_match_no_one(world, django_capture_on_commit_callbacks):
    make_meera(world.a)
    with workspace_context(world.a):
        make_debt(world.a, email="shared@example.com")
        make_debt(world.a, email="other@example.com")
    # The reference of one debt and the email of another person: ambiguous, so no one.
    submit(HttpClient(), django_capture_on_commit_callbacks, identifier="PAY-1", contact="shared@example.com")
    assert mail.outbox == []
    (made,) = _requests(world.a)
    assert made.debtor_id is None


# --- Bad input ----------------------------------------------------------------------------


def test_bad_input_gets_field_errors_and_writes_nothing(world, meera):
    http = HttpClient()
    before = AuditEvent.objects.count()
    response = http.post(NEW, request_data(type="teleport", contact="not a contact", identifier=""))
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count('class="field-error"') >= 3
    assert "Enter a valid email address or phone number." in html
    assert 'value="not a contact"' in html  # what was typed is kept
    assert _requests(world.a) == [] and AuditEvent.objects.count() == before

    hindi = http.post(NEW, request_data(contact="nope"), HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "एक मान्य ईमेल पता या फ़ोन नंबर दर्ज करें।" in hindi


def test_a_representative_must_attach_a_pdf_png_or_jpeg(world, meera, private_storage):
    http = HttpClient()
    data = request_data(is_representative="on", representative_name="Arjun Iyer")
    response = http.post(NEW, data)  # no file
    assert response.status_code == 400 and "Attach their signed authorisation." in response.content.decode()

    fake = SimpleUploadedFile("authorisation.pdf", b"MZ\x90\x00 not a pdf at all", content_type="application/pdf")
    response = http.post(NEW, {**data, "authorisation": fake})
    assert response.status_code == 400
    assert "Only PDF, PNG or JPEG files of at most 10 MB are accepted." in response.content.decode()
    assert _requests(world.a) == []
    assert not private_storage.exists() or not any(p.is_file() for p in private_storage.rglob("*"))


def test_a_representatives_authorisation_is_stored_encrypted_pending_review(
    world, meera, private_storage, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("mandate.pdf", PDF, content_type="application/octet-stream")
    with django_capture_on_commit_callbacks(execute=True):
        response = HttpClient().post(
            NEW,
            request_data(is_representative="on", representative_name="Arjun Iyer", authorisation=upload),
        )
    assert response.status_code == 200
    assert "a manager will review the authorisation" in response.content.decode()
    (made,) = _requests(world.a)
    assert made.authorisation_status == "pending" and made.representative_name == "Arjun Iyer"
    with workspace_context(world.a):
        (file,) = RequestFile.objects.filter(request=made)
    assert file.kind == FileKind.AUTHORISATION and file.size_bytes == len(PDF)
    raw = (private_storage / file.storage_name).read_bytes()
    assert b"%PDF" not in raw and b"Catalog" not in raw
    assert blob_decrypt(raw, workspace_id=world.a.pk, purpose=file.storage_name) == PDF
    # The representative typed their own contact: it is not used to find the person.
    assert made.debtor_id == meera.pk


def test_too_many_requests_from_one_address_are_refused(world):
    http = HttpClient()
    for _ in range(10):
        http.post(NEW, request_data(contact="bad"))
    response = http.post(NEW, request_data())
    assert response.status_code == 429
    assert _requests(world.a) == []


# --- Links to the page ------------------------------------------------------------------


def test_the_payment_page_and_the_privacy_policy_link_to_the_rights_pages(world, meera):
    with workspace_context(world.a):
        debt = meera.debts.get()
        url = payment_link_create(debt=debt).url
    path = url[url.index("/pay/") :]
    assert 'href="/privacy/acme/requests/new/"' in HttpClient().get(path).content.decode()
    hindi = HttpClient().get(path, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert "मेरे डेटा की प्रति माँगें, या उसे सुधारने या हटाने के लिए कहें" in hindi

    policy = HttpClient().get("/legal/privacy/").content.decode()
    assert 'data-testid="rights-links"' in policy and "/accounts/login/?next=/account/privacy/" in policy
    assert 'href="/account/privacy/"' in login(world.charlie).get("/legal/privacy/").content.decode()


# --- Signed-in users ----------------------------------------------------------------------


def test_account_pages_need_a_sign_in(world):
    http = HttpClient()
    for url in ("/account/privacy/", "/account/privacy/delete/"):
        response = http.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for url in ("/account/privacy/download/", "/account/privacy/my-data.json"):
        assert http.post(url).status_code == 302


def test_security_settings_offer_download_and_delete(world):
    html = login(world.alice).get("/account/security/").content.decode()
    assert 'href="/account/privacy/"' in html and 'href="/account/privacy/delete/"' in html


def test_download_my_data_records_a_verified_access_request_and_queues_the_copy(world, copies):
    http = login(world.alice)
    page = http.get("/account/privacy/").content.decode()
    assert 'value="acme"' in page and 'value="globex"' not in page  # only her workspaces
    assert http.post("/account/privacy/download/", {"workspace": "globex"}).status_code == 302
    assert _requests(world.b) == []  # not hers: nothing recorded

    response = http.post("/account/privacy/download/", {"workspace": "acme"})
    assert response.status_code == 302
    (made,) = _requests(world.a)
    assert made.subject_type == SubjectType.USER and made.user_id == world.alice.pk
    assert made.channel == RequestChannel.ACCOUNT and made.status == RequestStatus.VERIFIED
    assert made.verification_method == "signed-in user" and made.due_at is not None
    assert copies == [made.reference]
    # Asking again reuses the open request.
    http.post("/account/privacy/download/", {"workspace": "acme"})
    assert len(_requests(world.a)) == 1
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_RECEIVED, object_id=str(made.pk)).exists()
    page = http.get("/account/privacy/").content.decode()
    assert made.reference in page


def test_a_users_own_request_opens_its_download_with_the_sign_in_as_verification(world, copies):
    http = login(world.alice)
    http.post("/account/privacy/download/", {"workspace": "acme"})
    (made,) = _requests(world.a)
    response = http.post(f"/account/privacy/requests/acme/{made.reference}/download/")
    assert response.status_code == 302
    assert response["Location"] == f"/privacy/acme/requests/{made.reference}/download/"
    status = http.get(f"/privacy/acme/requests/{made.reference}/")  # the session verified it
    assert status.status_code == 200 and made.reference in status.content.decode()
    assert HttpClient().get(f"/privacy/acme/requests/{made.reference}/").status_code == 302


def test_someone_else_cannot_take_a_users_request(world, copies):
    login(world.alice).post("/account/privacy/download/", {"workspace": "acme"})
    (made,) = _requests(world.a)
    url = f"/account/privacy/requests/acme/{made.reference}/download/"
    assert login(world.bob).post(url).status_code == 404
    assert login(world.charlie).post(url).status_code == 404
    # The public verify page sends a user's own request back to their account.
    assert (
        HttpClient().get(f"/privacy/acme/requests/{made.reference}/verify/")["Location"].startswith("/account/privacy/")
    )


def test_a_user_in_no_workspace_downloads_the_account_record_at_once(world):
    http = login(world.charlie)
    page = http.get("/account/privacy/").content.decode()
    assert "You belong to no workspace" in page
    response = http.post("/account/privacy/my-data.json")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    body = json.loads(response.content)
    assert body["subject"]["email"] == "charlie@example.com"
    (user_row,) = body["records"]["accounts.user"]
    assert user_row["contact"]["email"] == "charlie@example.com"
    assert user_row["authentication"]["password"] == "(held, not shown: a secret)"
    assert PASSWORD not in response.content.decode()
    assert AuditEvent.objects.filter(action=actions.PERSONAL_DATA_EXPORT, object_id=str(world.charlie.pk)).exists()
    # A member asks their workspace instead.
    assert login(world.alice).post("/account/privacy/my-data.json").status_code == 404


def test_delete_my_account_says_what_is_kept_and_needs_the_password(world):
    http = login(world.alice)
    page = http.get("/account/privacy/delete/").content.decode()
    assert "What we keep, and why" in page and "GDPR Art. 5(2) accountability" in page  # the audit trail's law
    assert "365 days" in page or "1 year" in page  # security logs, from the registry
    assert "privacy desk" in page

    response = http.post("/account/privacy/delete/", {"password": "wrong-password", "confirm": "on"})
    assert response.status_code == 400 and "That is not your password." in response.content.decode()
    assert _requests(world.a) == []
    assert http.post("/account/privacy/delete/", {"password": PASSWORD}).status_code == 400  # not confirmed

    # Alice is Acme's only owner: refused, with the way out, and nothing changes
    # (the deletion itself: tests/privacy_requests/test_account_deletion.py).
    response = http.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 400 and "only owner" in response.content.decode()
    assert _requests(world.a) == []
    world.alice.refresh_from_db()
    assert world.alice.is_active


def test_password_tries_to_delete_an_account_are_limited(world):
    http = login(world.alice)
    for _ in range(5):
        http.post("/account/privacy/delete/", {"password": "nope", "confirm": "on"})
    response = http.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 400 and "Too many tries" in response.content.decode()
    assert _requests(world.a) == []
