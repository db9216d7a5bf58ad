"""The placements app's retention stores (placements/retention.py): rejects files go
PLACEMENT_FILES (30 days by default) after the import finished, the upload of an
import that never finished goes after it was uploaded, each workspace's own period
counts, and a hold on the whole workspace keeps them."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import Workspace
from audit.models import AuditEvent
from debtors.models import HoldReason, HoldScope
from kernel.tenancy import workspace_context
from placements.imports import COLUMNS, placement_import_create, placement_import_execute
from placements.models import ImportStatus, PlacementImport
from retention.engine import purge_run
from retention.holds import legal_hold_lift, legal_hold_place
from retention.models import PurgeRun, RunStatus
from retention.schedules import retention_setting_set
from tests.conftest import World, login

pytestmark = pytest.mark.usefixtures("private_storage")

CLIENT = {"acme": "SAHYADRI", "globex": "LSCU"}


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def purge(workspace: Workspace | None, store: str, now: datetime, *, dry_run: bool = False) -> PurgeRun:
    run = purge_run(workspace=workspace, category=store, now=now, dry_run=dry_run)
    assert run.status == RunStatus.DONE, run.errors
    return run


def _file(workspace: Workspace, tag: str) -> bytes:
    rows = [
        f"CUST-{tag},Asha Rao,asha.{tag}@example.com,,,,,LN-{tag},12.50,{workspace.currency},,{CLIENT[workspace.slug]}",
        f"CUST-X{tag},Bad Amount,,,,,,LN-X{tag},abc,{workspace.currency},,{CLIENT[workspace.slug]}",
    ]
    return ("\n".join([",".join(COLUMNS), *rows]) + "\n").encode()


def _import(workspace: Workspace, tag: str, *, finished_days: int, now: datetime) -> PlacementImport:
    job = placement_import_create(workspace=workspace, file_obj=io.BytesIO(_file(workspace, tag)), file_name="p.csv")
    job = placement_import_execute(workspace=workspace, import_id=job.pk)
    assert job.rejected_count == 1 and default_storage.exists(job.rejects_storage_name)
    with workspace_context(workspace):
        PlacementImport.objects.filter(pk=job.pk).update(finished_at=now - timedelta(days=finished_days))
    return job


def _with_rejects(workspace: Workspace, jobs: dict[str, PlacementImport]) -> set[str]:
    with workspace_context(workspace):
        rows = dict(PlacementImport.objects.values_list("pk", "rejects_storage_name"))
    left = {name for name, job in jobs.items() if rows[job.pk]}
    assert left == {name for name, job in jobs.items() if default_storage.exists(job.rejects_storage_name)}
    return left


def test_rejects_files_go_after_the_workspaces_period(world: World, now: datetime) -> None:
    jobs_a = {
        "old": _import(world.a, "1", finished_days=40, now=now),
        "young": _import(world.a, "2", finished_days=20, now=now),
    }
    jobs_b = {
        "old": _import(world.b, "1", finished_days=40, now=now),
        "young": _import(world.b, "2", finished_days=20, now=now),
    }
    with workspace_context(world.b):  # Globex keeps rejected rows for 60 days
        retention_setting_set(workspace=world.b, category="PLACEMENT_FILES", days=60, reason="clients resend monthly")

    dry = purge(world.a, "placements.rejects", now, dry_run=True)
    assert dry.counts == {"PLACEMENT_FILES": {"delete": 1}} and _with_rejects(world.a, jobs_a) == {"old", "young"}

    run = purge(world.a, "placements.rejects", now)

    assert run.counts == {"PLACEMENT_FILES": {"delete": 1}}
    assert _with_rejects(world.a, jobs_a) == {"young"}
    with workspace_context(world.a):
        old = PlacementImport.objects.get(pk=jobs_a["old"].pk)
        assert (old.created_count, old.rejected_count, old.rejects_purged_at) == (1, 1, now)  # the counts remain
        assert AuditEvent.objects.filter(action="placement.rejects_purged").count() == 1
    page = login(world.alice).get(f"/w/acme/placements/{old.pk}/rejects.csv")
    assert page.status_code == 410 and "30 days after the import" in page.content.decode()
    assert purge(world.a, "placements.rejects", now).counts == {}

    assert purge(world.b, "placements.rejects", now).counts == {}  # 40 days is within Globex's 60
    assert _with_rejects(world.b, jobs_b) == {"old", "young"}
    assert purge(world.b, "placements.rejects", now + timedelta(days=21)).counts == {"PLACEMENT_FILES": {"delete": 1}}
    assert _with_rejects(world.b, jobs_b) == {"young"}


def test_a_hold_on_the_whole_workspace_keeps_the_files(world: World, now: datetime) -> None:
    jobs = {"old": _import(world.a, "1", finished_days=40, now=now)}
    with workspace_context(world.a):
        hold = legal_hold_place(
            workspace=world.a,
            scope=HoldScope.WORKSPACE,
            reason=HoldReason.REGULATOR,
            review_on=timezone.localdate() + timedelta(days=30),
            case_reference="RBI/2026/17",
        )

    assert purge(world.a, "placements.rejects", now).counts == {}
    assert _with_rejects(world.a, jobs) == {"old"}

    with workspace_context(world.a):
        legal_hold_lift(workspace=world.a, hold=hold, reason="the inquiry ended")
    assert purge(world.a, "placements.rejects", now).counts == {"PLACEMENT_FILES": {"delete": 1}}
    assert _with_rejects(world.a, jobs) == set()


def test_the_upload_of_an_import_that_never_finished_goes(world: World, now: datetime, private_storage: Path) -> None:
    def upload(workspace: Workspace, tag: str, days: int) -> PlacementImport:
        job = placement_import_create(
            workspace=workspace, file_obj=io.BytesIO(_file(workspace, tag)), file_name="p.csv"
        )
        with workspace_context(workspace):
            PlacementImport.objects.filter(pk=job.pk).update(created_at=now - timedelta(days=days))
        return job

    lost = upload(world.a, "1", 40)  # queued and never run
    stuck = upload(world.a, "2", 35)
    with workspace_context(world.a):
        PlacementImport.objects.filter(pk=stuck.pk).update(status=ImportStatus.RUNNING)  # its worker died
    waiting = upload(world.a, "3", 2)
    elsewhere = upload(world.b, "1", 40)
    done = _import(world.a, "4", finished_days=1, now=now)
    with workspace_context(world.a):
        PlacementImport.objects.filter(pk=done.pk).update(created_at=now - timedelta(days=40))

    run = purge(world.a, "placements.uploads", now)

    assert run.counts == {"PLACEMENT_FILES": {"delete": 2}}
    with workspace_context(world.a):
        for job in (lost, stuck):
            job.refresh_from_db()
            assert job.status == ImportStatus.FAILED and "retention" in job.error
            assert not default_storage.exists(job.storage_name)
        waiting.refresh_from_db()
        assert waiting.status == ImportStatus.PENDING and default_storage.exists(waiting.storage_name)
        assert PlacementImport.objects.get(pk=done.pk).status == ImportStatus.DONE
    assert default_storage.exists(elsewhere.storage_name)
    assert purge(world.a, "placements.uploads", now).counts == {}
    assert (private_storage / elsewhere.storage_name).exists()
