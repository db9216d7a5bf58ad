"""The full export of a closed workspace: built on a worker at the closure, stored
encrypted, complete (each file holds exactly the workspace's rows), downloadable by an
owner only, audited; a damaged file does not decrypt; it goes after its period."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from django.core.files.storage import default_storage

from audit import actions
from audit.models import AuditEvent
from debtors.models import Debtor
from kernel.tenancy import workspace_context
from retention.closure import workspace_export_download
from retention.closure_export import (
    export_latest,
    export_stream,
    export_tables,
    exports_list,
    workspace_export_build,
)
from retention.engine import purge_run
from tests.conftest import login
from tests.cross_tenant import PNG_BYTES
from tests.retention.closure_world import _fresh_cache, acme_with_everything, close, fresh  # noqa: F401

pytestmark = pytest.mark.usefixtures("private_storage")


@pytest.fixture
def closed_acme(world, django_capture_on_commit_callbacks):
    acme = acme_with_everything(world)
    with django_capture_on_commit_callbacks(execute=True):  # the export is built on the (eager) worker
        close(world)
    return acme


def download(client) -> zipfile.ZipFile:
    response = client.get("/w/acme/closure/export/download/")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="acme-export-')
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_owner_downloads_a_complete_export(world, closed_acme):
    ws = fresh(world.a)
    page = login(world.alice).get("/w/acme/closure/")
    assert b"Download the export" in page.content
    archive = download(login(world.alice))
    names = set(archive.namelist())
    with workspace_context(ws):
        for table in export_tables():
            if table.label == "audit.auditevent":
                continue  # the trail grows with the download itself; checked below
            expected = table.model.objects.for_workspace(ws).count()  # type: ignore[attr-defined]
            rows = json.loads(archive.read(f"data/{table.label}.json"))
            assert len(rows) == expected, table.label
            lines = list(csv.reader(io.StringIO(archive.read(f"csv/{table.label}.csv").decode())))
            assert lines[0] == list(table.columns) and len(lines) - 1 == expected, table.label
            assert all(set(row) == set(table.columns) for row in rows)
        debtors = {d["id"]: d for d in json.loads(archive.read("data/debtors.debtor.json"))}
        for debtor in Debtor.objects.for_workspace(ws):
            # Decrypted: the person's details as they are on the debt page.
            assert debtors[str(debtor.pk)]["full_name"] == debtor.full_name
            assert debtors[str(debtor.pk)]["email"] == debtor.email
    # Everything the brief lists is there, with rows.
    for label in (
        "accounts.client", "accounts.membership", "debtors.debtor", "debtors.debt",
        "debtors.ledgerentry", "debtors.paymentplan", "debtors.installment", "debtors.promisetopay",
        "debtors.settlementoffer", "debtors.dispute", "debtors.note", "debtors.document", "accounts.invitation",
        "accounts.apikey", "debtors.savedview",
    ):  # fmt: skip
        assert json.loads(archive.read(f"data/{label}.json")), label
    for label in ("debtors.debtorcontact", "consent.consentrecord", "communications.communication",
                  "privacy_requests.privacyrequest", "debtors.legalhold"):  # fmt: skip
        assert f"data/{label}.json" in names, label
    members = {m["user_email"]: m["role"] for m in json.loads(archive.read("data/accounts.membership.json"))}
    assert members == {
        "alice@example.com": "owner",
        "ada-admin@example.com": "admin",
        "arjun-agent@example.com": "agent",
    }
    notes = json.loads(archive.read("data/debtors.note.json"))
    assert [n["body"] for n in notes] == ["Asked for a call back on Friday"]
    # The document's file, decrypted.
    assert archive.read(f"documents/{closed_acme.document.pk}/statement.png") == PNG_BYTES
    # Secrets are withheld, and the manifest says so.
    keys = json.loads(archive.read("data/accounts.apikey.json"))
    assert keys and all("key_hash" not in k for k in keys)
    assert all("email_bidx" not in d for d in debtors.values())
    manifest = json.loads(archive.read("manifest.json"))
    assert "key_hash" in manifest["withheld"]["accounts.apikey"]
    assert manifest["documents"] == 1 and manifest["documents_missing"] == []
    # The trail as it was when the export was built (every event up to then).
    trail = json.loads(archive.read("data/audit.auditevent.json"))
    assert [e["seq"] for e in trail] == list(range(1, len(trail) + 1))
    assert any(e["action"] == actions.WORKSPACE_CLOSED for e in trail)
    # Nothing of another workspace.
    assert b"globex" not in b"".join(archive.read(n) for n in names).lower()


def test_the_export_is_stored_encrypted_and_audited(world, closed_acme):
    ws = fresh(world.a)
    export = export_latest(workspace=ws)
    assert export is not None and export.records > 0
    with default_storage.open(export.storage_name, "rb") as fh:
        stored = fh.read()
    with workspace_context(ws):
        name = Debtor.objects.for_workspace(ws).order_by("created_at").first().full_name
    assert name.encode() not in stored and b"Asked for a call back" not in stored
    built = AuditEvent.unscoped.filter(workspace_id=ws.pk, action=actions.PERSONAL_DATA_EXPORT)
    assert built.count() == 1 and "debtors.debtor.full_name" in built.get().metadata["fields"]

    download(login(world.alice))
    exported = AuditEvent.unscoped.get(workspace_id=ws.pk, action=actions.WORKSPACE_EXPORTED)
    assert exported.actor_user_id == world.alice.pk and exported.metadata["export"] == export.id
    assert AuditEvent.unscoped.filter(workspace_id=ws.pk, action=actions.PERSONAL_DATA_DOWNLOAD).count() == 1


def test_only_an_owner_downloads(world, closed_acme):
    # Members who are not owners meet the closed workspace's page (410); another
    # workspace's owner gets 404, as for any route of a workspace not theirs.
    assert login(closed_acme.admin).get("/w/acme/closure/export/download/").status_code == 410
    assert login(closed_acme.agent).get("/w/acme/closure/export/download/").status_code == 410
    assert login(world.bob).get("/w/acme/closure/export/download/").status_code == 404
    with pytest.raises(PermissionError):
        workspace_export_download(workspace=fresh(world.a), actor=closed_acme.admin)
    assert not AuditEvent.unscoped.filter(workspace_id=world.a.pk, action=actions.WORKSPACE_EXPORTED).exists()


def test_an_open_workspace_has_no_export(world):
    alice = login(world.alice)
    assert alice.get("/w/acme/closure/export/download/").status_code == 404
    assert alice.post("/w/acme/closure/export/").status_code == 302
    assert exports_list(workspace_id=world.a.pk) == []


def test_a_fresh_export_can_be_asked_for(world, closed_acme, django_capture_on_commit_callbacks):
    first = export_latest(workspace=fresh(world.a))
    with django_capture_on_commit_callbacks(execute=True):
        assert login(world.alice).post("/w/acme/closure/export/").status_code == 302
    exports = exports_list(workspace_id=world.a.pk)
    assert len(exports) == 2 and exports[1].id == first.id
    assert export_latest(workspace=fresh(world.a)).id == exports[0].id


@pytest.mark.parametrize("damage", ["truncate", "flip", "drop_last_frame"])
def test_a_damaged_export_does_not_decrypt(world, closed_acme, damage, monkeypatch):
    monkeypatch.setattr("retention.closure_export.FRAME_BYTES", 64)  # many frames for a small archive
    ws = fresh(world.a)
    export = workspace_export_build(workspace=ws)
    with default_storage.open(export.storage_name, "rb") as fh:
        stored = bytearray(fh.read())
    assert b"".join(export_stream(workspace=ws, export=export))  # intact, it reads
    if damage == "truncate":
        stored = stored[: len(stored) - 10]
    elif damage == "flip":
        stored[len(stored) // 2] ^= 0x01
    else:
        # Cut the last frame off: what is left ends with a frame sealed as "more".
        offsets, pos = [], 4
        while pos < len(stored):
            offsets.append(pos)
            pos += 8 + int.from_bytes(stored[pos : pos + 8], "big")
        stored = stored[: offsets[-1]]
    default_storage.delete(export.storage_name)
    default_storage.save(export.storage_name, io.BytesIO(bytes(stored)))
    with pytest.raises((InvalidTag, ValueError)):
        b"".join(export_stream(workspace=ws, export=export))


def test_exports_go_after_their_period_and_at_the_purge(world, closed_acme):
    ws = fresh(world.a)
    export = export_latest(workspace=ws)
    assert export is not None and export.expires_at == ws.purge_after  # built at the closure: the purge comes first
    # Before it expires the purge keeps it.
    run = purge_run(workspace=ws, category="retention.closure_exports", now=ws.purge_after - timedelta(days=1))
    assert run.total == 0 and exports_list(workspace_id=ws.pk)
    run = purge_run(workspace=ws, category="retention.closure_exports", now=ws.purge_after)
    assert run.counts == {"WORKSPACE_EXPORTS": {"delete": 1}}
    assert exports_list(workspace_id=ws.pk) == [] and not default_storage.exists(export.storage_name)
    assert login(world.alice).get("/w/acme/closure/export/download/").status_code == 404
    # Idempotent.
    assert purge_run(workspace=ws, category="retention.closure_exports", now=ws.purge_after).total == 0
