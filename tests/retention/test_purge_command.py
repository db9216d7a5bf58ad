"""``manage.py purge_expired [SLUG] [--dry-run] [--category NAME]``: what it prints,
what it changes (nothing on a dry run) and how it fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessLog
from django.core.management import CommandError, call_command
from django.utils import timezone

from kernel.retention import PurgeContext
from kernel.tenancy import workspace_context
from retention import engine
from retention.models import PurgeRun, RunStatus, RunTrigger
from tests.conftest import World
from tests.retention.engine_stores import (
    NOTES,
    SIGNINS,
    TIMELINE,
    events_of,
    notes_of,
    only_stores,
    seed,
    signin_add,
    snapshot,
)


@pytest.fixture(autouse=True)
def _test_stores() -> Iterator[None]:
    with only_stores(NOTES, TIMELINE, SIGNINS):
        yield


def purge_expired(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("purge_expired", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_dry_run_prints_what_would_go_and_changes_nothing(world: World) -> None:
    now = timezone.now()
    made = seed(world.a, now=now)
    signin_add(username="alice@example.com", days_ago=400, now=now)
    before, before_b, signins = snapshot(world.a), snapshot(world.b), AccessLog.objects.count()
    old_events = events_of(world.a, made.old)

    out, _ = purge_expired("--dry-run", "--no-progress")

    assert snapshot(world.a) == before and snapshot(world.b) == before_b and AccessLog.objects.count() == signins
    lines = out.splitlines()
    assert lines[0].startswith("installation: would purge 1 records")
    assert f"acme: would purge {8 + old_events} records" in out
    assert "globex: would purge 0 records" in out
    cutoff = (now - timedelta(days=3 * 365)).date().isoformat()
    assert f"  COLLECTION_RECORDS / test.notes — delete: 8 (period 1095 days, before {cutoff})" in lines
    assert f"  TEST_TIMELINE / test.timeline — pseudonymise: {old_events} (period 90 days" in out
    listed = [line for line in lines if line.startswith("    note ")]
    assert len(listed) == 8
    assert {line.split(" of ")[1].split(",")[0] for line in listed} == {d.reference for d in made.old}
    assert all(run.dry_run and run.trigger == RunTrigger.COMMAND for run in PurgeRun.unscoped.all())


def test_a_long_listing_is_cut_with_the_rest_counted(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(engine, "LISTING_LIMIT", 3)
    seed(world.a, now=timezone.now())
    out, _ = purge_expired("acme", "--dry-run", "--category", "test.notes", "--no-progress")
    assert len([line for line in out.splitlines() if line.startswith("    note ")]) == 3
    assert "    … and 5 more" in out.splitlines()


def test_a_purge_of_one_workspace_prints_its_receipt(world: World) -> None:
    now = timezone.now()
    made = seed(world.a, now=now)
    other = seed(world.b, now=now)
    signin_add(username="alice@example.com", days_ago=400, now=now)

    out, err = purge_expired("acme")

    total = 8 + events_of(world.a, made.old)
    assert out.splitlines()[0].startswith(f"acme: purged {total} records (run ")
    assert "  COLLECTION_RECORDS / test.notes — delete: 8" in out
    assert f"{total}/{total}" in err  # the progress bar reached its estimate
    assert notes_of(world.a, made.old) == 0 and notes_of(world.a, made.held) == 4
    assert notes_of(world.b, other.old) == 8 and AccessLog.objects.count() == 1

    again, _ = purge_expired("acme", "--no-progress")
    assert again.splitlines() == [again.splitlines()[0]] and "purged 0 records" in again


def test_a_category_runs_only_where_it_belongs(world: World) -> None:
    now = timezone.now()
    made = seed(world.a, now=now)
    signin_add(username="alice@example.com", days_ago=400, now=now)

    out, _ = purge_expired("--category", "SECURITY_LOGS", "--no-progress")

    assert out.splitlines()[0].startswith("installation: purged 1 records")
    assert "acme" not in out  # a workspace has no SECURITY_LOGS store here: skipped, not an error
    assert not AccessLog.objects.exists() and notes_of(world.a, made.old) == 8

    out, _ = purge_expired("acme", "--category", "test.timeline", "--no-progress")
    assert "test.timeline" in out and "test.notes" not in out
    assert events_of(world.a, made.old, removed=False) == 0 and notes_of(world.a, made.old) == 8


@pytest.mark.parametrize("args", [("--category", "EVERYTHING"), ("acme", "--category", "EVERYTHING")])
def test_an_unknown_category_is_an_error_naming_the_known_ones(world: World, args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError) as error:
        purge_expired(*args, "--no-progress")
    assert error.value.returncode == 1
    assert "No category or store called 'EVERYTHING'" in str(error.value)
    assert "COLLECTION_RECORDS" in str(error.value)
    assert not PurgeRun.unscoped.exists()


def test_a_category_of_the_other_scope_is_an_error_for_one_workspace(world: World) -> None:
    with pytest.raises(CommandError, match="not one of a workspace's stores"):
        purge_expired("acme", "--category", "SECURITY_LOGS", "--no-progress")


def test_an_unknown_workspace_is_an_error(world: World) -> None:
    with pytest.raises(CommandError) as error:
        purge_expired("nope", "--no-progress")
    assert error.value.returncode == 1 and "No workspace with slug 'nope'" in str(error.value)


def test_a_failing_store_fails_the_command_after_the_others_ran(world: World) -> None:
    made = seed(world.a, now=timezone.now())

    def broken(ctx: PurgeContext) -> Any:
        raise RuntimeError("disk full")

    out = StringIO()
    with only_stores(NOTES, dataclasses.replace(TIMELINE, due=broken)), pytest.raises(CommandError) as error:
        call_command("purge_expired", "acme", "--no-progress", stdout=out, stderr=StringIO())

    assert error.value.returncode == 1 and "the next run tries them again" in str(error.value)
    assert "  test.timeline: RuntimeError: disk full" in out.getvalue()
    assert notes_of(world.a, made.old) == 0  # the other store still ran
    with workspace_context(world.a):
        run = PurgeRun.objects.get()
    assert run.status == RunStatus.FAILED
