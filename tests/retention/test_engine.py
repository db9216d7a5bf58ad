"""The purge engine (retention.engine) over stores the tests register on real tables
(tests/retention/engine_stores.py): what crosses its period goes, exactly once, in
batches, resumably; holds keep what they cover; receipts and the audit trail say so."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from axes.models import AccessLog
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from debtors.models import HoldReason, HoldScope, Note
from kernel.retention import PurgeContext
from kernel.tenancy import workspace_context
from retention.engine import RUN_LOCK_NAMESPACE, purge_estimate, purge_run, purge_start, purge_unfinished
from retention.holds import legal_hold_lift, legal_hold_place
from retention.models import PurgeRun, RunStatus
from retention.schedules import retention_setting_clear, retention_setting_set
from retention.tasks import purge_expired_all
from tests.conftest import World
from tests.retention.engine_stores import (
    NOTES,
    SIGNINS,
    TIMELINE,
    balances,
    events_of,
    notes_of,
    only_stores,
    seed,
    signin_add,
    snapshot,
)


class Crash(BaseException):
    """What a killed worker looks like to the engine: nothing catches it."""


@pytest.fixture(autouse=True)
def _test_stores() -> Iterator[None]:
    with only_stores(NOTES, TIMELINE, SIGNINS):
        yield


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def test_records_past_their_period_go_once_held_ones_stay(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    other = seed(world.b, now=now)
    old_notes, old_events = notes_of(world.a, made.old), events_of(world.a, made.old)
    assert old_notes == 8 and old_events > old_notes  # 4 debts x 2 notes; every note added a timeline line
    books, other_before = balances(world.a), snapshot(world.b)

    run = purge_run(workspace=world.a, now=now)

    assert run.status == RunStatus.DONE and run.errors == []
    assert run.counts == {"COLLECTION_RECORDS": {"delete": 8}, "TEST_TIMELINE": {"pseudonymise": old_events}}
    assert notes_of(world.a, made.old) == 0
    assert events_of(world.a, made.old, removed=False) == 0
    assert notes_of(world.a, made.young) == 4 and events_of(world.a, made.young, removed=True) == 0
    assert notes_of(world.a, made.held) == 4 and events_of(world.a, made.held, removed=True) == 0
    assert balances(world.a) == books  # the ledger is not the stores' business
    assert snapshot(world.b) == other_before  # another workspace's records are its own run's
    assert notes_of(world.b, other.old) == 8

    again = purge_run(workspace=world.a, now=now)
    assert again.pk != run.pk and again.status == RunStatus.DONE
    assert again.counts == {} and again.total == 0

    # 100 days on, the young records have crossed their periods too; held ones still stay.
    later = purge_run(workspace=world.a, now=now + timedelta(days=100))
    young_events = events_of(world.a, made.young)
    assert later.counts == {"COLLECTION_RECORDS": {"delete": 4}, "TEST_TIMELINE": {"pseudonymise": young_events}}
    assert notes_of(world.a, made.young) == 0 and events_of(world.a, made.young, removed=False) == 0
    assert notes_of(world.a, made.held) == 4 and events_of(world.a, made.held, removed=True) == 0
    assert balances(world.a) == books


def test_the_receipt_keeps_each_stores_period_and_progress(world: World, now: datetime) -> None:
    seed(world.a, now=now)
    run = purge_run(workspace=world.a, now=now)
    notes = run.progress["test.notes"]
    assert notes["done"] is True and notes["count"] == 8 and notes["pending"] == []
    assert notes["days"] == 3 * 365 and notes["category"] == "COLLECTION_RECORDS" and notes["action"] == "delete"
    assert notes["cutoff"] == (now - timedelta(days=3 * 365)).isoformat()
    assert run.progress["test.timeline"]["days"] == 90
    assert run.as_of == now and run.finished_at is not None


def test_a_hold_on_the_whole_workspace_keeps_everything_and_every_store_is_told(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    told: list[bool] = []

    def telling_due(ctx: PurgeContext) -> Any:
        told.append(ctx.options["workspace_held"])
        return NOTES.due(ctx)

    with workspace_context(world.a):
        hold = legal_hold_place(
            workspace=world.a,
            scope=HoldScope.WORKSPACE,
            reason=HoldReason.REGULATOR,
            review_on=timezone.localdate() + timedelta(days=90),
        )
    with only_stores(dataclasses.replace(NOTES, due=telling_due), TIMELINE):
        held = purge_run(workspace=world.a, now=now)
        assert held.counts == {} and told and all(told)
        assert notes_of(world.a, made.old) == 8 and events_of(world.a, made.old, removed=True) == 0

        with workspace_context(world.a):
            legal_hold_lift(workspace=world.a, hold=hold, reason="Inquiry closed")
        lifted = purge_run(workspace=world.a, now=now)
    assert told[-1] is False and lifted.counts["COLLECTION_RECORDS"] == {"delete": 8}


def test_batches_are_capped_and_walk_the_keys_in_order(world: World, now: datetime, settings: Any) -> None:
    settings.RETENTION_MAX_BATCH = 3
    made = seed(world.a, now=now)
    expected_events = events_of(world.a, made.old)
    batches: list[tuple[str, int]] = []

    run = purge_run(workspace=world.a, now=now, on_progress=lambda store, n: batches.append((store, n)))

    notes = [n for store, n in batches if store == "test.notes"]
    assert notes == [3, 3, 2]
    timeline = [n for store, n in batches if store == "test.timeline"]
    assert all(n <= 3 for n in timeline) and sum(timeline) == expected_events
    assert len(timeline) == -(-expected_events // 3)
    assert run.counts["COLLECTION_RECORDS"] == {"delete": 8}
    assert notes_of(world.a, made.old) == 0


def test_a_dry_run_lists_what_would_go_and_changes_nothing(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    signin_add(username="alice@example.com", days_ago=400, now=now)
    before, signins = snapshot(world.a), AccessLog.objects.count()

    dry = purge_run(workspace=world.a, now=now, dry_run=True)

    assert snapshot(world.a) == before and AccessLog.objects.count() == signins
    assert dry.dry_run and dry.status == RunStatus.DONE
    old_events = events_of(world.a, made.old)
    assert dry.counts == {"COLLECTION_RECORDS": {"delete": 8}, "TEST_TIMELINE": {"pseudonymise": old_events}}
    listing = dry.progress["test.notes"]["listing"]
    assert len(listing) == 8
    assert {line.split(" of ")[1].split(",")[0] for line in listing} == {d.reference for d in made.old}
    assert len(dry.progress["test.timeline"]["listing"]) == old_events  # no describe: the keys
    assert purge_unfinished(workspace=world.a) is None  # a dry run is never resumed as a purge

    real = purge_run(workspace=world.a, now=now)
    assert real.counts == dry.counts


def test_the_estimate_counts_what_a_run_then_does(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    estimate = purge_estimate(workspace=world.a, now=now)
    assert estimate == {"test.timeline": events_of(world.a, made.old), "test.notes": 8}
    run = purge_run(workspace=world.a, now=now)
    assert run.total == sum(estimate.values())
    assert purge_estimate(workspace=world.a, now=now) == {"test.timeline": 0, "test.notes": 0}


def test_a_failing_store_is_recorded_the_others_run_and_the_next_run_retries(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)

    def broken(ctx: PurgeContext) -> Any:
        raise RuntimeError("notes table is on fire")

    with only_stores(dataclasses.replace(NOTES, due=broken), TIMELINE):
        failed = purge_run(workspace=world.a, now=now)

    assert failed.status == RunStatus.FAILED
    assert failed.errors == [{"store": "test.notes", "error": "RuntimeError: notes table is on fire"}]
    assert failed.counts == {"TEST_TIMELINE": {"pseudonymise": events_of(world.a, made.old)}}
    assert notes_of(world.a, made.old) == 8
    assert purge_unfinished(workspace=world.a) is None  # finished (failed): the next run starts afresh

    retry = purge_run(workspace=world.a, now=now)
    assert retry.pk != failed.pk and retry.status == RunStatus.DONE
    assert retry.counts == {"COLLECTION_RECORDS": {"delete": 8}}
    assert notes_of(world.a, made.old) == 0


def test_a_crashed_run_resumes_with_its_clock_and_cursor(world: World, now: datetime, settings: Any) -> None:
    settings.RETENTION_MAX_BATCH = 3
    made = seed(world.a, now=now)
    batches = 0

    def dies_after_two_batches(ctx: PurgeContext, keys: list[Any]) -> int:
        nonlocal batches
        batches += 1
        if batches > 2:
            raise Crash
        return NOTES.apply(ctx, keys)

    with only_stores(dataclasses.replace(NOTES, apply=dies_after_two_batches)), pytest.raises(Crash):
        purge_run(workspace=world.a, now=now)

    crashed = purge_unfinished(workspace=world.a)
    assert crashed is not None and crashed.status == RunStatus.RUNNING
    state = crashed.progress["test.notes"]
    assert state["count"] == 6 and not state["done"]
    assert notes_of(world.a, made.old) == 2  # the third batch rolled back with its count

    # Resumed 200 days later: it still counts periods from its own clock, so the young
    # notes (due by then) are left to the next run.
    with only_stores(NOTES):
        resumed = purge_run(workspace=world.a, now=now + timedelta(days=200))
    assert resumed.pk == crashed.pk and resumed.as_of == now
    assert resumed.status == RunStatus.DONE
    assert resumed.counts == {"COLLECTION_RECORDS": {"delete": 8}}
    assert notes_of(world.a, made.old) == 0 and notes_of(world.a, made.young) == 4
    assert purge_unfinished(workspace=world.a) is None

    with only_stores(NOTES):
        nightly = purge_run(workspace=world.a, now=now + timedelta(days=200))
    assert nightly.pk != crashed.pk and nightly.counts == {"COLLECTION_RECORDS": {"delete": 4}}


def test_a_non_atomic_batch_cut_short_is_applied_again_and_counted_once(
    world: World, now: datetime, settings: Any
) -> None:
    settings.RETENTION_MAX_BATCH = 4
    made = seed(world.a, now=now)
    expected = events_of(world.a, made.old)
    calls = 0

    def dies_in_the_second_batch(ctx: PurgeContext, keys: list[Any]) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            TIMELINE.apply(ctx, keys[:2])  # two rows done, each in its own transaction
            raise Crash
        return TIMELINE.apply(ctx, keys)

    with only_stores(dataclasses.replace(TIMELINE, apply=dies_in_the_second_batch)), pytest.raises(Crash):
        purge_run(workspace=world.a, now=now)

    crashed = purge_unfinished(workspace=world.a)
    assert crashed is not None
    state = crashed.progress["test.timeline"]
    assert state["count"] == 4 and len(state["pending"]) == 4
    assert events_of(world.a, made.old, removed=True) == 6

    with only_stores(TIMELINE):
        resumed = purge_run(workspace=world.a, now=now)
    assert resumed.pk == crashed.pk and resumed.status == RunStatus.DONE
    assert resumed.counts == {"TEST_TIMELINE": {"pseudonymise": expected}}
    assert resumed.progress["test.timeline"]["pending"] == []
    assert events_of(world.a, made.old, removed=True) == expected


def test_a_run_another_process_is_executing_is_left_alone(world: World, now: datetime, pg: None) -> None:
    made = seed(world.a, now=now)
    run = purge_start(workspace=world.a, now=now)
    other = connections.create_connection("default")  # another worker, executing this run
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [RUN_LOCK_NAMESPACE, str(run.pk)])
        duplicate = purge_run(workspace=world.a, now=now)  # e.g. the broker delivered the task again
        assert duplicate.pk == run.pk and duplicate.status == RunStatus.RUNNING and duplicate.progress == {}
        assert notes_of(world.a, made.old) == 8
    finally:
        other.close()  # that worker ends (or dies): its lock goes with its connection

    resumed = purge_run(workspace=world.a, now=now)
    assert resumed.pk == run.pk and resumed.status == RunStatus.DONE
    assert resumed.counts["COLLECTION_RECORDS"] == {"delete": 8}


def test_a_category_or_a_store_name_limits_the_run(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)

    by_rule = purge_run(workspace=world.a, now=now, category="collection_records")
    assert by_rule.category == "collection_records"
    assert by_rule.counts == {"COLLECTION_RECORDS": {"delete": 8}}
    assert events_of(world.a, made.old, removed=True) == 0

    by_store = purge_run(workspace=world.a, now=now, category="test.timeline")
    assert set(by_store.counts) == {"TEST_TIMELINE"} and set(by_store.progress) == {"test.timeline"}
    assert events_of(world.a, made.old, removed=False) == 0


def test_an_unknown_category_is_refused_naming_the_known_ones(world: World, now: datetime) -> None:
    with pytest.raises(ValidationError) as unknown:
        purge_run(workspace=world.a, now=now, category="EVERYTHING")
    message = str(unknown.value.message_dict["category"])
    assert "EVERYTHING" in message and "COLLECTION_RECORDS" in message and "test.notes" in message

    with pytest.raises(ValidationError) as wrong_scope:
        purge_run(workspace=world.a, now=now, category="SECURITY_LOGS")
    assert "not one of a workspace's stores" in str(wrong_scope.value)
    with pytest.raises(ValidationError):
        purge_run(workspace=None, now=now, category="test.notes")
    assert not PurgeRun.unscoped.exists()


def test_global_stores_run_without_a_workspace_and_only_then(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    old = signin_add(username="alice@example.com", days_ago=400, now=now)
    recent = signin_add(username="bob@example.com", days_ago=300, now=now)

    workspace_run = purge_run(workspace=world.a, now=now)
    assert "test.signins" not in workspace_run.progress
    assert AccessLog.objects.filter(pk=old.pk).exists()

    with workspace_context(world.a):
        notes_left = Note.objects.for_workspace(world.a).count()
    installation = purge_run(workspace=None, now=now)
    assert installation.workspace_id is None
    assert installation.counts == {"SECURITY_LOGS": {"delete": 1}}
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {recent.pk}
    assert notes_of(world.a, made.young + made.held) == notes_left


def test_the_workspaces_own_period_decides(world: World, now: datetime) -> None:
    made = seed(world.a, now=now)
    with workspace_context(world.a):
        retention_setting_set(
            workspace=world.a, category="COLLECTION_RECORDS", days=1300, reason="Client contract: keep notes 1300 days"
        )
    longer = purge_run(workspace=world.a, now=now, category="COLLECTION_RECORDS")
    assert longer.counts == {} and longer.progress["test.notes"]["days"] == 1300
    assert notes_of(world.a, made.old) == 8

    with workspace_context(world.a):
        retention_setting_clear(workspace=world.a, category="COLLECTION_RECORDS")
    default = purge_run(workspace=world.a, now=now, category="COLLECTION_RECORDS")
    assert default.progress["test.notes"]["days"] == 3 * 365 and default.counts  # back to the default: due again
    assert notes_of(world.a, made.held) == 4

    other = purge_run(workspace=world.b, now=now, category="COLLECTION_RECORDS")
    assert other.progress["test.notes"]["days"] == 3 * 365  # Globex keeps its profile's period


@contextmanager
def logged_in_as_the_application_role() -> Iterator[None]:
    """As production logs in: as the application role, subject to row-level security
    outside every workspace's transaction (the suite's login role is a superuser)."""
    role = django_settings.TENANCY_DB_ROLE
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')  # a role name from settings
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_the_workspaces_own_period_holds_under_row_level_security(world: World, now: datetime, pg: None) -> None:
    if not django_settings.TENANCY_DB_ROLE:
        pytest.skip("needs TENANCY_DB_ROLE (CI sets it)")
    made = seed(world.a, now=now)
    with workspace_context(world.a):
        retention_setting_set(workspace=world.a, category="COLLECTION_RECORDS", days=1300, reason="Client contract")
        retention_setting_set(workspace=world.a, category="TEST_TIMELINE", days=365, reason="Client contract")
    with logged_in_as_the_application_role():
        run = purge_run(workspace=world.a, now=now)
    assert run.progress["test.notes"]["days"] == 1300 and run.counts == {}
    assert notes_of(world.a, made.old) == 8


def test_runs_are_audited_and_the_chain_still_verifies(world: World, now: datetime, capsys: Any) -> None:
    seed(world.a, now=now)
    signin_add(username="alice@example.com", days_ago=400, now=now)
    run = purge_run(workspace=world.a, now=now)
    installation = purge_run(workspace=None, now=now)

    events = AuditEvent.unscoped.filter(object_id=str(run.pk)).order_by("seq")
    assert [(e.action, e.workspace_id) for e in events] == [
        (actions.RETENTION_PURGE_STARTED, world.a.pk),
        (actions.RETENTION_PURGE_FINISHED, world.a.pk),
    ]
    finished = events.last()
    assert finished is not None
    assert finished.metadata["COLLECTION_RECORDS.delete"] == 8 and finished.metadata["total"] == run.total
    assert AuditEvent.unscoped.filter(
        object_id=str(installation.pk), workspace__isnull=True, action=actions.RETENTION_PURGE_FINISHED
    ).exists()

    call_command("verify_audit_chain")  # raises CommandError on a broken chain
    out = capsys.readouterr().out
    assert "acme: OK" in out and "global: OK" in out


def test_the_nightly_job_purges_every_workspace_and_the_installation(world: World, now: datetime) -> None:
    made_a = seed(world.a, now=now - timedelta(days=1))
    made_b = seed(world.b, now=now - timedelta(days=1))
    signin_add(username="alice@example.com", days_ago=400, now=now)

    assert purge_expired_all() == 2  # tasks run eagerly in the test settings

    assert notes_of(world.a, made_a.old) == 0 and notes_of(world.b, made_b.old) == 0
    assert notes_of(world.a, made_a.held) == 4 and notes_of(world.b, made_b.young) == 4
    assert not AccessLog.objects.exists()
    runs = PurgeRun.unscoped.filter(status=RunStatus.DONE)
    assert sorted((r.workspace_id or 0, r.trigger) for r in runs) == sorted(
        [(0, "nightly"), (world.a.pk, "nightly"), (world.b.pk, "nightly")]
    )
