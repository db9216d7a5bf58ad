"""The person's copy (access and portability): built from the registry alone, their
data and nobody else's, stored encrypted, downloaded once through a short-lived link
after re-verification, deleted after 7 days."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts.models import Client, Workspace
from audit import actions
from audit.models import AuditEvent
from communications.log import communication_log
from consent.services import consent_record, disclosure_record
from debtors.models import Debt, Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_add_party, debt_change_status, debt_create
from debtors.services.disputes import dispute_open
from debtors.services.ledger import adjustment_post
from debtors.services.records import document_upload, note_add
from kernel.context import request_info
from kernel.privacy import registry
from kernel.privacy.registry import declarations, rows_for_subject
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from privacy_requests import export_archive, exports, verification
from privacy_requests.export_tasks import privacy_exports_expire_all
from privacy_requests.models import FileKind, PrivacyRequest, RequestFile, RequestStatus
from privacy_requests.services import privacy_request_create
from tests.conftest import World

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class People:
    world: World
    debtor: Debtor
    debt: Debt
    request: PrivacyRequest
    neighbour: Debtor  # same workspace, a co-debtor on the person's debt
    outsider: Debtor  # the other workspace


def _debtor(ws: Workspace, **fields: Any) -> Debtor:
    return debtor_create(workspace=ws, data=DebtorInput(**fields))


def _debt(ws: Workspace, debtor: Debtor, reference: str) -> Debt:
    client = Client.objects.for_workspace(ws).order_by("created_at").first()
    assert client is not None
    debt = debt_create(
        workspace=ws,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=reference, original_amount_minor=250_000, currency=ws.currency),
    )
    return debt_change_status(debt=debt, status="active")


def _fill(ws: Workspace, debtor: Debtor, debt: Debt, tag: str) -> None:
    """A record of every kind a service can make about a debtor, with values marked ``tag``."""
    note_add(debt=debt, body=f"{tag} note: called back at lunch")
    adjustment_post(debt=debt, amount_minor=-1_000, memo=f"{tag} goodwill discount")
    payment_link_create(debt=debt)
    with request_info(ip="203.0.113.7" if tag == "MEERA" else "198.51.100.9", user_agent=f"{tag}-phone-browser/1.0"):
        consent_record(
            workspace=ws, subject_type="debtor", subject_id=str(debtor.pk), purpose="marketing",
            action="withdraw", source="debtor_page",
        )  # fmt: skip
    communication_log(debt=debt, channel="call", direction="inbound", content=f"{tag} called about the amount")
    document_upload(debt=debt, upload=io.BytesIO(PDF), file_name=f"{tag}-payslip.pdf")
    second = _debt(ws, debtor, f"{tag}-DISPUTED")
    dispute_open(debt=second, reason="wrong_amount", details=f"{tag} says the amount is wrong")


@pytest.fixture
def people(world: World, private_storage: Path) -> People:
    a, b = world.a, world.b
    with workspace_context(a):
        debtor = _debtor(
            a,
            full_name="Meera Iyer",
            email="meera@example.com",
            phone="+91 98765 43210",
            address="12 MG Road, Pune",
            date_of_birth=date(1990, 5, 17),
            national_id="ABCPI1234K",
            external_ref="CUST-MEERA",
            preferred_language="hi",
        )
        debt = _debt(a, debtor, "PAY-1")
        _fill(a, debtor, debt, "MEERA")
        neighbour = _debtor(
            a,
            full_name="Zebulon Quux",
            email="zebulon@elsewhere.example",
            phone="+91 99999 11111",
            address="77 Otherton Lane, Nagpur",
            date_of_birth=date(1971, 1, 2),
            national_id="ZZQPX9999Z",
            external_ref="CUST-ZEBULON",
        )
        _fill(a, neighbour, _debt(a, neighbour, "ZEB-1"), "ZEBULON")
        # Zebulon co-signed Meera's debt, and Meera is a guarantor of one of his.
        debt_add_party(debt=debt, debtor=neighbour, role="co_debtor")
        debt_add_party(debt=_debt(a, neighbour, "ZEB-2"), debtor=debtor, role="guarantor")
        disclosure_record(
            workspace=a, debtor=debtor, recipient_type="legal_firm", recipient_name="Kale & Partners",
            categories=["identity", "financial"], purpose="Recovery proceedings",
        )  # fmt: skip
        request = privacy_request_create(
            workspace=a,
            type="access",
            channel="phone",
            debtor=debtor,
            requester_name="Meera Iyer",
            details="MEERA wants everything",
            verified_by="agent checked date of birth",
        )
    with workspace_context(b):
        outsider = _debtor(
            b,
            full_name="Orville Outland",
            email="orville@globex.example",
            phone="+1 415 555 0199",
            address="1 Market St, San Francisco",
            national_id="US-SSN-XYZ-777",
            external_ref="CUST-ORVILLE",
        )
        _fill(b, outsider, _debt(b, outsider, "ORV-1"), "ORVILLE")
    return People(world, debtor, debt, request, neighbour, outsider)


def _zip_files(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def _build(people: People) -> tuple[RequestFile, dict[str, str]]:
    file = exports.export_build(request=people.request)
    plaintext, _ = export_archive.archive_bytes(
        request=PrivacyRequest.objects.for_workspace(people.world.a).get(pk=people.request.pk),
        workspace=people.world.a,
        now=timezone.now(),
    )
    return file, _zip_files(plaintext)


def _values_of(ws: Workspace, debtor: Debtor) -> dict[tuple[str, str, str], Any]:
    """(record type, row id, field) → value, for every declared field of every row
    the registry holds about the debtor (read independently of the exporter)."""
    out = {}
    with workspace_context(ws):
        for row in rows_for_subject(subject_type="debtor", subject_id=debtor.pk, workspace=ws):
            for name in row.fields:
                out[(row.model._meta.label_lower, str(row.instance.pk), name)] = getattr(row.instance, name)
    return out


def _distinctive(values: dict[tuple[str, str, str], Any], mine: dict[tuple[str, str, str], Any]) -> set[str]:
    """Another person's values that cannot legitimately be in my copy (not shared
    with mine, long enough not to match by chance)."""
    shared = {json.dumps(export_archive._plain(v)) for v in mine.values()}
    texts = set()
    for value in values.values():
        plain = export_archive._plain(value)
        if plain in (None, "", [], {}) or json.dumps(plain) in shared:
            continue
        text = plain if isinstance(plain, str) else json.dumps(plain)
        if len(text) >= 6:
            texts.add(text)
    return texts


def test_the_copy_holds_every_registered_field_of_the_person(people: People) -> None:
    _file, files = _build(people)
    values = _values_of(people.world.a, people.debtor)
    seen_types = set()
    for (label, row_id, name), value in values.items():
        declaration = next(d for d in declarations() if d.model._meta.label_lower == label)
        category = str(declaration.fields[name].category)
        records = {r["id"]: r for r in json.loads(files[f"data/{label}.json"])}
        assert records[row_id][category][name] == export_archive._plain(value), (label, name)
        seen_types.add(label)
        if isinstance(value, str) and value:
            # And in the spreadsheet version (a leading = + - @ neutralised with a quote).
            rows = {r["id"]: r for r in csv.DictReader(io.StringIO(files[f"csv/{label}.csv"]))}
            assert rows[row_id][name] in (value, "'" + value), (label, name)
    # The test is not vacuous: the person has rows of (nearly) every kind a service makes.
    assert {
        "debtors.debtor",
        "debtors.note",
        "debtors.ledgerentry",
        "debtors.dispute",
        "debtors.document",
        "communications.communication",
        "consent.consentrecord",
        "payments.paymentlink",
        "privacy_requests.privacyrequest",
    } <= seen_types
    # Nothing else than what the registry declares: one JSON and one CSV per record type.
    assert {n for n in files if n.startswith("data/")} == {f"data/{label}.json" for label in seen_types}
    assert {n for n in files if n.startswith("csv/")} == {f"csv/{label}.csv" for label in seen_types}
    debtor_json = json.loads(files["data/debtors.debtor.json"])
    assert debtor_json == [
        {
            "id": str(people.debtor.pk),
            "identity": {
                "full_name": "Meera Iyer",
                "date_of_birth": "1990-05-17",
                "external_ref": "CUST-MEERA",
            },
            "contact": {
                "email": "meera@example.com",
                "phone": "+919876543210",
                "address": "12 MG Road, Pune",
                "timezone": "Asia/Kolkata",
            },
            "government_id": {"national_id": "ABCPI1234K"},
            "demographic": {"preferred_language": "hi"},
        }
    ]


def test_the_copy_holds_nobody_elses_data(people: People) -> None:
    _file, files = _build(people)
    mine = _values_of(people.world.a, people.debtor)
    others = _distinctive(_values_of(people.world.a, people.neighbour), mine)
    others |= _distinctive(_values_of(people.world.b, people.outsider), mine)
    others |= {str(people.neighbour.pk), str(people.outsider.pk), "Zebulon", "ZEBULON", "Orville", "ORVILLE"}
    assert len(others) > 20
    for name, text in files.items():
        for value in others:
            assert value not in text, f"{value!r} (someone else's) is in {name}"


def test_the_summary_says_what_article_15_requires(people: People) -> None:
    _file, files = _build(people)
    summary = files["summary.html"]
    for expected in (
        "Collecting debts placed by creditors",  # purposes
        "Legitimate interests",  # legal bases
        "Government identifier",  # categories
        "3 years after the last collection activity",  # retention per category
        "Kale &amp; Partners",  # a disclosure to a recipient
        "Sahyadri Bank",  # the source: the client who placed the debts
        "PAY-1",
        "Guarantor",  # and the debt Meera guarantees
        "Transfers to other countries",
        "None recorded",  # no sub-processor, so no transfer, recorded
        "Data Protection Board of India",  # where to complain (Acme is in India)
        "nominate",  # India's extra right
    ):
        assert expected in summary, expected


def test_the_copy_is_stored_encrypted_and_audited(people: People, private_storage: Path) -> None:
    file, _ = _build(people)
    raw = (private_storage / file.storage_name).read_bytes()
    assert not zipfile.is_zipfile(io.BytesIO(raw))
    assert b"meera@example.com" not in raw and b"Meera" not in raw
    assert file.kind == FileKind.EXPORT and len(file.sha256) == 64 and file.size_bytes > 0
    assert file.expires_at == file.created_at + timedelta(days=7)
    event = AuditEvent.unscoped.get(action=actions.PRIVACY_REQUEST_EXPORT_BUILT)
    assert event.metadata["debtors.debtor"] == 1 and event.metadata["debtors.note"] == 1
    assert "Meera" not in json.dumps(event.metadata)
    request = PrivacyRequest.objects.for_workspace(people.world.a).get(pk=people.request.pk)
    assert request.status == RequestStatus.IN_PROGRESS
    with workspace_context(people.world.a):
        assert [e.kind for e in request.events.all()][-2:] == ["status", "export_built"]


def test_building_twice_makes_one_copy(people: People, django_capture_on_commit_callbacks: Any) -> None:
    with workspace_context(people.world.a), django_capture_on_commit_callbacks(execute=True):
        exports.export_queue(request=people.request)
        exports.export_queue(request=people.request)
    first = exports.latest_export(request=people.request)
    assert first is not None
    assert exports.export_build(request=people.request).pk == first.pk
    assert RequestFile.objects.for_workspace(people.world.a).count() == 1


def test_a_restricted_person_is_still_copied(people: People) -> None:
    """Restriction stops collection, not the person's own request: the copy is it."""
    # Set the flag alone (the restriction service belongs to the fulfilment work).
    Debtor.objects.for_workspace(people.world.a).filter(pk=people.debtor.pk).update(processing_restricted=True)
    _file, files = _build(people)
    assert "Meera Iyer" in files["data/debtors.debtor.json"]


def test_only_a_verified_access_request_is_copied(world: World, private_storage: Path) -> None:
    with workspace_context(world.a):
        debtor = _debtor(world.a, full_name="Asha Rao", email="asha@example.com")
        unverified = privacy_request_create(workspace=world.a, type="access", channel="web", debtor=debtor)
        erasure = privacy_request_create(
            workspace=world.a, type="erasure", channel="phone", debtor=debtor, verified_by="agent"
        )
    with pytest.raises(ValidationError):
        exports.export_build(request=unverified)
    with pytest.raises(ValidationError):
        exports.export_build(request=erasure)


def test_a_users_copy_holds_their_account_data_and_no_secret(world: World, private_storage: Path) -> None:
    with workspace_context(world.a):
        request = privacy_request_create(
            workspace=world.a, type="access", channel="account", user=world.alice, verified_by="signed in"
        )
    file = exports.export_build(request=request)
    with workspace_context(world.a):
        request = PrivacyRequest.objects.get(pk=request.pk)
        plaintext, counts = export_archive.archive_bytes(request=request, workspace=world.a, now=timezone.now())
    files = _zip_files(plaintext)
    users = json.loads(files["data/accounts.user.json"])
    assert [u["contact"]["email"] for u in users] == ["alice@example.com"]
    assert users[0]["authentication"]["password"] == export_archive.WITHHELD  # a hash is no use to her
    assert "bob@example.com" not in "".join(files.values())
    assert "From you, when your account was created" in files["summary.html"]
    assert file.kind == FileKind.EXPORT and counts["accounts.user"] == 1


# --- Downloading ------------------------------------------------------------------------


def _verified_browser(request: PrivacyRequest) -> HttpClient:
    """A browser whose session has just verified the requester."""
    browser = HttpClient()
    session = browser.session  # saved, and its cookie set on the client
    http_request = RequestFactory().get("/")
    http_request.session = session
    verification.session_mark_verified(http_request, request)
    session.save()
    return browser


def _download_url(request: PrivacyRequest, slug: str = "acme") -> str:
    return reverse("privacy_request_download", kwargs={"workspace_slug": slug, "reference": request.reference})


def test_the_requester_downloads_the_copy_once(people: People) -> None:
    file, expected = _build(people)
    browser = _verified_browser(people.request)
    response = browser.get(_download_url(people.request))
    assert response.status_code == 302
    link = response["Location"]
    assert link.startswith("/privacy/acme/downloads/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    stored = RequestFile.objects.for_workspace(people.world.a).get(pk=file.pk)
    assert token not in stored.download_token_hash and len(stored.download_token_hash) == 64

    assert browser.head(link).status_code == 405  # a probe does not spend the link
    response = browser.get(link)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{people.request.reference}-my-data.zip"'
    assert response["Cache-Control"] == "no-store"
    got = _zip_files(response.content)
    assert set(got) == set(expected)
    assert "Meera Iyer" in got["data/debtors.debtor.json"]

    assert browser.get(link).status_code == 404  # single use
    assert browser.get(_download_url(people.request)).status_code == 410  # and no second copy
    request = PrivacyRequest.objects.for_workspace(people.world.a).get(pk=people.request.pk)
    assert request.status == RequestStatus.FULFILLED and request.outcome == "copy downloaded"
    assert AuditEvent.unscoped.filter(action=actions.PRIVACY_REQUEST_EXPORT_DOWNLOADED).count() == 1


def test_a_download_link_expires_after_ten_minutes(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    _build(people)
    browser = _verified_browser(people.request)
    link = browser.get(_download_url(people.request))["Location"]
    later = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr(timezone, "now", lambda: later)
    monkeypatch.setattr(verification, "session_recently_verified", lambda *args, **kwargs: True)
    assert browser.get(link).status_code == 404
    assert browser.get("/privacy/acme/downloads/not-a-token/").status_code == 404


def test_the_link_works_only_in_the_session_that_verified(people: People) -> None:
    _build(people)
    link = _verified_browser(people.request).get(_download_url(people.request))["Location"]
    assert HttpClient().get(link).status_code == 404


def test_downloading_asks_to_verify_again(people: People) -> None:
    _build(people)
    response = HttpClient().get(_download_url(people.request))
    assert response.status_code == 302
    verify = reverse("privacy_request_verify", kwargs={"workspace_slug": "acme", "reference": people.request.reference})
    assert response["Location"] == f"{verify}?next={_download_url(people.request).replace('/', '%2F')}"


def test_while_it_is_built_the_page_says_so_and_refreshes(people: People) -> None:
    browser = _verified_browser(people.request)
    response = browser.get(_download_url(people.request))  # no copy yet: queued for after the commit
    assert response.status_code == 200
    assert response["Refresh"] == "3"
    assert b"being prepared" in response.content
    assert b"Meera" not in response.content


def test_another_workspace_gets_404(people: People) -> None:
    _build(people)
    link = _verified_browser(people.request).get(_download_url(people.request))["Location"]
    browser = _verified_browser(people.request)
    assert browser.get(_download_url(people.request, slug="globex")).status_code == 404
    assert browser.get(link.replace("/acme/", "/globex/")).status_code == 404
    assert browser.get(_download_url(people.request, slug="no-such-workspace")).status_code == 404


# --- Expiry -----------------------------------------------------------------------------


def test_copies_are_deleted_after_seven_days(
    people: People, private_storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, _ = _build(people)
    path = private_storage / file.storage_name
    start = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(days=6, hours=23))
    assert privacy_exports_expire_all() == 2  # one task per workspace
    assert path.exists()

    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(days=7, minutes=1))
    privacy_exports_expire_all()
    assert not path.exists()
    stored = RequestFile.objects.for_workspace(people.world.a).get(pk=file.pk)
    assert stored.deleted_at is not None
    assert exports.latest_export(request=people.request) is None
    event = AuditEvent.unscoped.get(action=actions.PRIVACY_REQUEST_EXPORT_DELETED)
    assert event.object_id == str(file.pk)
    privacy_exports_expire_all()  # idempotent
    assert AuditEvent.unscoped.filter(action=actions.PRIVACY_REQUEST_EXPORT_DELETED).count() == 1


# --- A field declared tomorrow ----------------------------------------------------------


def test_the_exporter_names_no_model(people: People) -> None:
    """The archive is made from the registry alone: no model of a lower app is named
    in the code that reads a person's rows (only the source and recipient registers,
    which the summary must name)."""
    source = Path(export_archive.__file__).read_text()
    reading = source[source.index("def person_records") : source.index("# --- The files in the archive")]
    for model in ("Debtor", "Note", "Dispute", "Document", "Communication", "LedgerEntry", "PaymentLink"):
        assert f"{model}." not in reading and f"{model}(" not in reading


def test_a_newly_declared_field_is_in_the_copy(people: People, monkeypatch: pytest.MonkeyPatch) -> None:
    """Declare a field that the registry does not know today (the debt's product, as
    if it were personal) and the next copy has it, with nothing else changed."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.declare(
        Debt,
        subject_type="debtor",
        subject="debtor_id",
        purpose="Collecting debts placed by creditors",
        fields={
            "reference": registry.PD(
                registry.Category.FINANCIAL,
                registry.Basis.CONTRACT,
                registry.COLLECTION_RECORDS,
                registry.Erasure.DELETE,
            )
        },
    )
    _file, files = _build(people)
    debts = json.loads(files["data/debtors.debt.json"])
    assert sorted(d["financial"]["reference"] for d in debts) == ["MEERA-DISPUTED", "PAY-1"]
    # Zebulon's debt that Meera guarantees is his row (debtor_id), not hers.
    assert "ZEB-2" not in files["data/debtors.debt.json"]
