"""A debtor asks for a copy of their data from their payment page on a phone, gets
the one-time code, verifies, and downloads an archive that holds every registered
field of theirs and nobody else's (issue 12, "Done when")."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import Client, Workspace
from debtors.models import Debt, Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_add_party, debt_change_status, debt_create
from debtors.services.records import note_add
from kernel.privacy.registry import rows_for_subject
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from privacy_requests.export_archive import _plain
from tests.browser.conftest import PHONE, guarded_page, screenshot
from tests.conftest import World

pytestmark = pytest.mark.browser


@dataclass
class Scene:
    world: World
    debtor: Debtor
    path: str  # /pay/<token>/
    others: list[tuple[Workspace, Debtor]]


def _debt(ws: Workspace, debtor: Debtor, reference: str) -> Debt:
    client = Client.objects.for_workspace(ws).order_by("created_at").first()
    assert client is not None
    debt = debt_create(
        workspace=ws,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=reference, original_amount_minor=500_000, currency=ws.currency),
    )
    return debt_change_status(debt=debt, status="active")


@pytest.fixture
def scene(browser_world: World) -> Scene:
    """Meera owes Sahyadri Bank and has a payment link; Zebulon, in the same
    workspace, co-signed her debt; Orville is a debtor of the other workspace. All
    committed: the live server reads them from another thread."""
    a, b = browser_world.a, browser_world.b
    with workspace_context(a):
        meera = debtor_create(
            workspace=a,
            data=DebtorInput(
                full_name="Meera Iyer",
                email="meera@example.com",
                phone="+91 98765 43210",
                address="12 MG Road, Pune",
                date_of_birth=date(1990, 5, 17),
                national_id="ABCPI1234K",
                external_ref="CUST-MEERA",
            ),
        )
        debt = _debt(a, meera, "PAY-1")
        note_add(debt=debt, body="Meera asked us to call after 6 pm")
        zebulon = debtor_create(
            workspace=a,
            data=DebtorInput(
                full_name="Zebulon Quux",
                email="zebulon@elsewhere.example",
                phone="+91 99999 11111",
                address="77 Otherton Lane, Nagpur",
                date_of_birth=date(1971, 1, 2),
                national_id="ZZQPX9999Z",
                external_ref="CUST-ZEBULON",
            ),
        )
        note_add(debt=_debt(a, zebulon, "ZEB-1"), body="Zebulon's employer is Quuxcorp")
        debt_add_party(debt=debt, debtor=zebulon, role="co_debtor")
        issued = payment_link_create(debt=debt)
    with workspace_context(b):
        orville = debtor_create(
            workspace=b,
            data=DebtorInput(
                full_name="Orville Outland",
                email="orville@globex.example",
                phone="+1 415 555 0199",
                address="1 Market St, San Francisco",
                national_id="US-SSN-XYZ-777",
                external_ref="CUST-ORVILLE",
            ),
        )
        note_add(debt=_debt(b, orville, "ORV-1"), body="Orville prefers letters")
    path = issued.url.removeprefix(settings.SITE_URL.rstrip("/"))
    return Scene(browser_world, meera, path, [(a, zebulon), (b, orville)])


@pytest.fixture
def phone(chromium, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A phone-sized touch browser (no cookies) that accepts downloads, with the same guards as ``page``."""
    with guarded_page(chromium, live_server, **PHONE, accept_downloads=True) as page:
        yield page


def _registered_values(ws: Workspace, debtor: Debtor) -> dict[tuple[str, str, str], Any]:
    """(record type, row id, field) → value of every declared field of every row the
    registry holds about ``debtor`` — read here, independently of the exporter."""
    with workspace_context(ws):
        return {
            (row.model._meta.label_lower, str(row.instance.pk), name): _plain(getattr(row.instance, name))
            for row in rows_for_subject(subject_type="debtor", subject_id=debtor.pk, workspace=ws)
            for name in row.fields
        }


def test_a_debtor_downloads_a_copy_of_their_data_on_a_phone(phone: Page, scene: Scene, tmp_path: Path) -> None:
    mail.outbox.clear()
    phone.goto(scene.path)
    expect(phone.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    phone.get_by_test_id("privacy-request").tap()
    expect(phone).to_have_url(re.compile(r"/privacy/acme/requests/new/$"))
    screenshot(phone, "privacy-request-new")

    phone.get_by_test_id("type-access").check()
    phone.get_by_label("Full name").fill("Meera Iyer")
    phone.get_by_label("Email or phone number where we can reach you").fill("meera@example.com")
    phone.get_by_label("How can we find you?").fill("meera@example.com")
    phone.get_by_test_id("send-request").tap()
    reference = phone.get_by_test_id("reference").inner_text()
    assert re.fullmatch(r"PR-[0-9A-Z]{6}", reference)

    # The code went to the address on file, in the live server's thread (same process).
    sent = [m for m in mail.outbox if reference in m.subject]
    assert [m.to for m in sent] == [["meera@example.com"]]
    code = re.search(r" is (\d+)\.", sent[0].body).group(1)  # type: ignore[union-attr]

    phone.get_by_test_id("enter-code").tap()
    phone.get_by_test_id("code").fill(code)
    phone.get_by_test_id("knowledge-date_of_birth").check()
    phone.get_by_test_id("answer").fill("1990-05-17")
    phone.get_by_test_id("verify").tap()
    expect(phone.get_by_test_id("reference")).to_have_text(reference)
    screenshot(phone, "privacy-request-verified")

    with phone.expect_download() as info:
        phone.get_by_test_id("download").tap()
    download = info.value
    assert download.suggested_filename == f"{reference}-my-data.zip"
    archive_path = tmp_path / download.suggested_filename
    download.save_as(archive_path)
    screenshot(phone, "privacy-request-downloaded")

    with zipfile.ZipFile(io.BytesIO(archive_path.read_bytes())) as archive:
        files = {name: archive.read(name).decode() for name in archive.namelist()}
    assert "summary.html" in files and "Sahyadri Bank" in files["summary.html"]

    # Every registered field of Meera's, value for value, in its record type's JSON.
    mine = _registered_values(scene.world.a, scene.debtor)
    assert ("debtors.debtor", str(scene.debtor.pk), "national_id") in mine
    assert any(label == "debtors.note" for label, _, _ in mine)
    for (label, row_id, name), value in mine.items():
        records = {r["id"]: r for r in json.loads(files[f"data/{label}.json"])}
        held = {
            field: v
            for category in records[row_id].values()
            if isinstance(category, dict)
            for field, v in category.items()
        }
        assert held[name] == value, (label, name)

    # Nobody else's: none of Zebulon's or Orville's values, anywhere in the archive.
    shared = {json.dumps(v) for v in mine.values()}
    theirs = {
        v if isinstance(v, str) else json.dumps(v)
        for ws, other in scene.others
        for v in _registered_values(ws, other).values()
        if v not in (None, "", [], {}) and json.dumps(v) not in shared
    }
    theirs = {t for t in theirs if len(t) >= 6} | {"Zebulon", "Orville", "Quuxcorp"}
    theirs |= {str(other.pk) for _, other in scene.others}
    for name, text in files.items():
        for value in theirs:
            assert value not in text, f"{value!r} (someone else's) is in {name}"

    # The link was single-use: going back to it asks for nothing and gives nothing.
    phone.goto(f"/privacy/acme/requests/{reference}/download/")
    expect(phone.get_by_test_id("export-gone")).to_be_visible()
    screenshot(phone, "privacy-request-already-downloaded")
