"""The audit trail's retention stores: a purge signs a checkpoint, prunes the events
behind it and the chain still verifies from it; a second run prunes nothing, a dry
run changes nothing, a tampered chain is not pruned; on PostgreSQL the application
role can delete audit rows only through the guarded prune function."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.utils import timezone

from audit import actions
from audit.checkpoints import audit_events_prune
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_record
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope
from kernel.tenancy.rls import apply_rls
from retention.engine import purge_run
from retention.models import RunStatus
from tests.audit.test_checkpoints import (
    age_new_events,
    chain_events,
    old_trail,
    record,
    rehash,
    sign,
    sql,
    verify,
)

CATEGORY = "SECURITY_LOGS"


def purge(workspace, **kwargs):
    return purge_run(workspace=workspace, category=CATEGORY, **kwargs)


def store_count(run, store: str = "audit.events") -> int:
    return int(run.progress[store]["count"])


def audit_errors(run) -> list[dict]:
    return [e for e in run.errors if e["store"].startswith("audit.")]


@pytest.fixture
def trail(world):
    """Acme: its events so far and six more written 400 days ago, then three today."""
    events = old_trail(world.a)
    old = [e for e in events if e.created_at < timezone.now() - timedelta(days=365)]
    return events, old


def test_a_purge_prunes_old_events_behind_a_signed_checkpoint_and_the_chain_verifies(trail, world, capsys):
    events, old = trail
    globex_before = len(chain_events(world.b))
    run = purge(world.a)
    assert not audit_errors(run), run.errors
    assert store_count(run, "audit.checkpoint") == 1
    assert store_count(run) == len(old)
    assert run.counts[CATEGORY]["checkpoint"] == 1
    kept = chain_events(world.a)
    assert kept[0].seq == len(old) + 1
    assert {e.pk for e in kept} >= {e.pk for e in events[len(old) :]}  # every young event stays
    assert not AuditEvent.unscoped.filter(pk__in=[e.pk for e in old]).exists()
    checkpoint = AuditCheckpoint.unscoped.get(workspace=world.a)
    assert checkpoint.seq == old[-1].seq and checkpoint.event_hash == old[-1].hash
    pruned = AuditEvent.unscoped.get(workspace=world.a, action=actions.AUDIT_EVENTS_PRUNED)
    assert pruned.metadata == {
        "first_seq": 1,
        "last_seq": len(old),
        "count": len(old),
        "checkpoint_seq": checkpoint.seq,
        "run": str(run.pk),
    }
    assert len(chain_events(world.b)) == globex_before  # the other workspace is untouched

    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert f"acme: OK — {len(kept)} events" in out
    assert f"{len(old)} older events pruned, starting from checkpoint #{checkpoint.seq}" in out
    assert "(key test1); 1 signed checkpoint verified" in out
    assert "globex: OK" in out and "pruned" not in out.split("globex:")[1].split("\n")[0]


def test_a_second_run_prunes_nothing(trail, world):
    purge(world.a)
    kept = [e.pk for e in chain_events(world.a)]
    again = purge(world.a)
    assert not audit_errors(again)
    assert store_count(again, "audit.checkpoint") == 0 and store_count(again) == 0
    assert AuditCheckpoint.unscoped.filter(workspace=world.a).count() == 1
    assert [e.pk for e in chain_events(world.a)][: len(kept)] == kept
    assert verify(world.a).ok


def test_a_later_night_prunes_from_the_checkpoint_on(trail, world, capsys):
    purge(world.a)
    first = AuditCheckpoint.unscoped.get(workspace=world.a)
    age_new_events(world.a, first)  # a year later, everything written since is past its period too
    run = purge(world.a)
    assert not audit_errors(run)
    second = AuditCheckpoint.unscoped.filter(workspace=world.a).latest("seq")
    assert second.previous_signature == first.signature
    assert store_count(run) == second.seq - first.seq
    assert chain_events(world.a)[0].seq == second.seq + 1
    call_command("verify_audit_chain", "acme")
    assert f"{second.seq} older events pruned, starting from checkpoint #{second.seq}" in capsys.readouterr().out


def test_a_dry_run_changes_nothing_and_lists_what_would_go(trail, world):
    events, old = trail
    run = purge(world.a, dry_run=True)
    assert not audit_errors(run), run.errors
    assert store_count(run, "audit.checkpoint") == 1
    assert store_count(run) == len(old)
    listing = run.progress["audit.events"]["listing"]
    assert listing[0].startswith(f"ws:{world.a.pk} #1 ") and len(listing) == len(old)
    assert run.progress["audit.checkpoint"]["listing"] == [
        f"ws:{world.a.pk}: sign a checkpoint at event #{old[-1].seq} ({old[-1].created_at:%Y-%m-%d})"
    ]
    assert not AuditCheckpoint.unscoped.exists()
    assert [e.pk for e in chain_events(world.a)][: len(events)] == [e.pk for e in events]


def test_events_younger_than_a_year_are_never_due(world):
    record(world.a, 5)
    before = [e.pk for e in chain_events(world.a)]
    run = purge(world.a, now=timezone.now() + timedelta(days=3 * 365))
    assert store_count(run, "audit.checkpoint") == 0 and store_count(run) == 0
    assert [e.pk for e in chain_events(world.a)][: len(before)] == before
    assert not AuditCheckpoint.unscoped.exists()


def test_a_run_counts_the_period_back_from_its_own_clock(trail, world):
    # A run "as of" 100 days ago: the 400-day-old events were then 300 days old, not yet due.
    run = purge(world.a, now=timezone.now() - timedelta(days=100))
    assert store_count(run) == 0
    assert chain_events(world.a)[0].seq == 1


def test_a_tampered_chain_is_not_pruned_and_stays_reported(trail, world):
    _events, old = trail
    victim = old[2]
    sql("UPDATE audit_auditevent SET object_id = 'tampered' WHERE id = %s", [victim.pk])
    run = purge(world.a)
    assert run.status == RunStatus.FAILED
    [error] = audit_errors(run)
    assert error["store"] == "audit.checkpoint"
    assert f"event #{victim.seq} (id {victim.pk})" in error["error"] and "row edited" in error["error"]
    assert chain_events(world.a)[0].seq == 1  # nothing pruned: the evidence stays
    assert not AuditCheckpoint.unscoped.exists()
    with pytest.raises(CommandError, match="row edited"):
        call_command("verify_audit_chain", "acme")


def test_tampering_a_kept_event_after_a_purge_fails_verification(trail, world):
    purge(world.a)
    victim = chain_events(world.a)[1]
    sql("UPDATE audit_auditevent SET object_id = 'tampered' WHERE id = %s", [victim.pk])
    with pytest.raises(CommandError, match=rf"event #{victim.seq} \(id {victim.pk}\): content does not match"):
        call_command("verify_audit_chain", "acme")


@pytest.mark.parametrize("position", [0, 2])
def test_deleting_a_kept_event_after_a_purge_fails_verification(trail, world, position):
    purge(world.a)
    kept = chain_events(world.a)
    victim = kept[position]
    assert sql("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk]) == 1
    with pytest.raises(CommandError, match=rf"sequence jumps from {victim.seq - 1} to {victim.seq + 1}"):
        call_command("verify_audit_chain", "acme")


def test_a_purge_midway_through_a_segment_still_verifies_and_only_the_prefix_goes(trail, world, capsys):
    events, old = trail
    checkpoint = sign(world.a)
    assert checkpoint is not None
    with workspace_context(world.a):
        # Not the oldest events: nothing goes (the kept part would have a hole).
        assert audit_events_prune(workspace=world.a, ids=[old[3].pk, old[4].pk]) == 0
        # Nor past the checkpoint.
        young = events[len(old)]
        assert audit_events_prune(workspace=world.a, ids=[young.pk]) == 0
        # A first batch of a purge that a crash interrupted.
        assert audit_events_prune(workspace=world.a, ids=[e.pk for e in old[:3]]) == 3
    assert chain_events(world.a)[0].seq == 4
    call_command("verify_audit_chain", "acme")
    assert f"3 older events pruned, pruning in progress up to checkpoint #{checkpoint.seq}" in capsys.readouterr().out
    # Events missing beyond what the pruning recorded are caught.
    sql("DELETE FROM audit_auditevent WHERE id = %s", [old[3].pk])
    with pytest.raises(CommandError, match="sequence jumps from 3 to 5"):
        call_command("verify_audit_chain", "acme")


def test_the_global_chain_is_pruned_by_the_installations_run(db, capsys):
    with db_scope():
        for i in range(4):
            audit_record(action="test.global", object_id=str(i))
    rehash(None, days=400)
    run = purge_run(workspace=None, category=CATEGORY)
    assert not audit_errors(run), run.errors
    assert store_count(run, "audit.global.checkpoint") == 1 and store_count(run, "audit.global.events") == 4
    call_command("verify_audit_chain")
    assert "global: OK" in capsys.readouterr().out


# --- PostgreSQL: the application role -------------------------------------------------


@pytest.fixture
def app_role(pg):
    role = settings.TENANCY_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {connection.ops.quote_name(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(
            "SELECT has_function_privilege(%s, 'collectpro_prune_audit_auditevent(text[])', 'EXECUTE')", [role]
        )
        if not cursor.fetchone()[0]:
            apply_rls(connection)
    return role


def as_app(role: str, workspace, statement: str, params: list) -> list:
    with db_scope(workspace_id=workspace.pk), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
        cursor.execute(statement, params)
        rows = cursor.fetchall() if cursor.description else []
        cursor.execute("RESET ROLE")
        return rows


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM audit_auditevent WHERE id = %s",
        "DELETE FROM audit_auditcheckpoint WHERE workspace_id = %s",
        "UPDATE audit_auditcheckpoint SET seq = seq + 1 WHERE workspace_id = %s",
    ],
)
def test_the_app_role_cannot_delete_audit_rows_or_touch_checkpoints(trail, world, app_role, statement):
    _events, old = trail
    sign(world.a)
    target = old[0].pk if "auditevent" in statement else world.a.pk
    with pytest.raises(DatabaseError, match="permission denied"):
        as_app(app_role, world.a, statement, [target])
    assert AuditEvent.unscoped.filter(pk=old[0].pk).exists()


def test_the_prune_function_deletes_only_old_events_behind_a_checkpoint(trail, world, app_role):
    events, old = trail
    prune = "SELECT collectpro_prune_audit_auditevent(%s)"
    # No checkpoint yet: nothing, however old.
    assert as_app(app_role, world.a, prune, [[str(old[0].pk)]]) == [(0,)]
    checkpoint = sign(world.a)
    assert checkpoint is not None
    young = events[len(old)]
    # Past the last checkpoint (and young): refused.
    assert as_app(app_role, world.a, prune, [[str(young.pk)]]) == [(0,)]
    # Behind a checkpoint but younger than a year: refused. (The owner forges a checkpoint
    # row over the young event to show the floor holds on its own.)
    sql(
        "INSERT INTO audit_auditcheckpoint (chain, workspace_id, seq, event_hash, event_created_at, first_seq,"
        " signed_at, key_id, previous_signature, signature) VALUES (%s, %s, %s, '', now(), 1, now(), 'x', '', '')",
        [young.chain, world.a.pk, young.seq + 50],
    )
    assert as_app(app_role, world.a, prune, [[str(young.pk)]]) == [(0,)]
    # Another workspace's old event behind its own checkpoint, listed from acme: refused.
    old_trail(world.b)
    assert sign(world.b) is not None
    other = chain_events(world.b)[0]
    assert as_app(app_role, world.a, prune, [[str(other.pk)]]) == [(0,)]
    # Old and behind the checkpoint: deleted.
    assert as_app(app_role, world.a, prune, [[str(old[0].pk)]]) == [(1,)]
    assert not AuditEvent.unscoped.filter(pk=old[0].pk).exists()
    assert young.pk in {e.pk for e in chain_events(world.a)}


def test_a_purge_as_the_app_role_prunes_through_the_function_and_verifies(trail, world, app_role, settings):
    _events, old = trail
    settings.TENANCY_DB_ROLE = app_role  # every workspace transaction runs as the application role
    run = purge(world.a)
    assert not audit_errors(run), run.errors
    assert store_count(run) == len(old)
    assert chain_events(world.a)[0].seq == len(old) + 1
    call_command("verify_audit_chain", "acme")
