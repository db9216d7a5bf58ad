"""The audit trail is append-only and hash-chained: ``verify_audit_chain`` catches
any edit, deletion or insertion done behind the application's back, and on
PostgreSQL the application role cannot change history at all."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from audit import actions
from audit.models import AuditChain, AuditEvent, chain_key
from audit.selectors import verify_chain
from audit.services import audit_record, event_hash, record_personal_data_access
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope
from kernel.tenancy.rls import apply_rls


def _record(workspace, n: int = 5) -> list[AuditEvent]:
    with workspace_context(workspace):
        return [
            audit_record(
                action="test.event", workspace=workspace, object_type="test", object_id=str(i), metadata={"i": i}
            )
            for i in range(n)
        ]


def _chain_events(workspace) -> list[AuditEvent]:
    return list(AuditEvent.unscoped.filter(chain=chain_key(workspace.pk)).order_by("seq"))


def _sql(sql: str, params: list | None = None) -> int:
    """Run SQL as the connection's own (superuser / owner) role: an attacker with database access."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def _verify_fails(slug: str = "acme") -> str:
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit_chain", slug)
    return str(exc.value)


@pytest.fixture
def trail(world):
    _record(world.a)
    _record(world.b)
    return _chain_events(world.a)


def test_an_intact_trail_verifies(trail, world, capsys):
    call_command("verify_audit_chain")
    call_command("verify_audit_chain", "acme")
    out = capsys.readouterr().out
    assert f"acme: OK — {len(trail)} events" in out
    assert "globex: OK" in out


def test_an_unknown_workspace_is_a_clear_error(trail):
    assert "No workspace with slug 'nope'" in _verify_fails("nope")


def test_an_edited_row_is_detected_and_named(trail, world):
    victim = trail[2]
    assert _sql("UPDATE audit_auditevent SET object_id = %s WHERE id = %s", ["tampered", victim.pk]) == 1
    message = _verify_fails()
    assert f"event #{victim.seq} (id {victim.pk})" in message and "row edited" in message
    # The other workspace's chain is untouched.
    call_command("verify_audit_chain", "globex")


def test_an_edited_hash_is_detected(trail):
    victim = trail[-2]
    _sql("UPDATE audit_auditevent SET action = %s, hash = %s WHERE id = %s", ["auth.login", "f" * 64, victim.pk])
    assert f"event #{victim.seq} " in _verify_fails()


def test_a_row_deleted_from_the_middle_is_detected(trail):
    victim = trail[len(trail) // 2]
    assert _sql("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk]) == 1
    message = _verify_fails()
    assert f"event #{victim.seq + 1} " in message
    assert f"jumps from {victim.seq - 1} to {victim.seq + 1}" in message


def test_the_deleted_tail_is_detected(trail):
    last = trail[-1]
    assert _sql("DELETE FROM audit_auditevent WHERE id = %s", [last.pk]) == 1
    message = _verify_fails()
    assert f"event #{last.seq}" in message and "tail deleted" in message


def test_an_inserted_row_with_a_valid_looking_hash_is_detected(trail, world):
    last = trail[-1]
    forged = AuditEvent(
        chain=last.chain,
        seq=last.seq + 1,
        workspace_id=world.a.pk,
        created_at=last.created_at + timedelta(seconds=1),
        action=actions.MEMBER_ADDED,
        actor_user_id=world.alice.pk,
        object_type="accounts.membership",
        object_id="1",
        source="web",
        metadata={},
        prev_hash=last.hash,
    )
    forged.hash = event_hash(forged.content())
    _sql(
        "INSERT INTO audit_auditevent (chain, seq, workspace_id, created_at, action, actor_user_id, actor_api_key_id,"
        " object_type, object_id, ip, user_agent, request_id, source, metadata, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s, NULL, '', '', %s, %s, %s, %s)",
        [
            forged.chain,
            forged.seq,
            forged.workspace_id,
            connection.ops.adapt_datetimefield_value(forged.created_at),
            forged.action,
            forged.actor_user_id,
            forged.object_type,
            forged.object_id,
            forged.source,
            json.dumps(forged.metadata),
            forged.prev_hash,
            forged.hash,
        ],
    )
    inserted = AuditEvent.unscoped.get(chain=last.chain, seq=last.seq + 1)
    assert inserted.hash == event_hash(inserted.content())  # every link checks out on its own
    message = _verify_fails()
    assert f"event #{inserted.seq} (id {inserted.pk})" in message and "inserted" in message


def test_events_appended_while_verifying_are_not_reported_as_tampering(trail, world):
    with workspace_context(world.a):
        stale_head = AuditChain.objects.get(key=chain_key(world.a.pk))
    _record(world.a, 2)  # a live system keeps writing after the head was read
    report = verify_chain(stale_head)
    assert report.ok, report.problem
    assert report.events == len(trail) + 2


def test_metadata_that_looks_like_personal_data_is_refused(world):
    before = AuditEvent.unscoped.count()
    bad: list[dict[str, Any]] = [
        {"note": "Called Mr Rao at home, he said he lost his job and " + "x" * 200},
        {"debtor": {"name": "Asha Rao"}},
        {"amount": 1250.5},
        {"values": [{"email": "asha@example.com"}]},
        {"values": [1.5]},
    ]
    with workspace_context(world.a):
        for metadata in bad:
            with pytest.raises(ValueError, match="audit metadata"):
                audit_record(action="test.event", workspace=world.a, metadata=metadata)
        ok = audit_record(
            action="test.event",
            workspace=world.a,
            metadata={"count": 3, "fields": ["email"], "flag": True, "ref": None},
        )
    assert ok.metadata == {"count": 3, "fields": ["email"], "flag": True, "ref": None}
    assert AuditEvent.unscoped.count() == before + 1


def test_personal_data_access_records_field_names_and_purpose_never_values(world):
    with workspace_context(world.a):
        debtor = debtor_create(
            workspace=world.a,
            data=DebtorInput(
                full_name="Asha Rao", email="asha.rao@example.com", phone="+91 98123 45678", national_id="QZXPV4821K"
            ),
        )
        event = record_personal_data_access(
            subject=debtor, fields=["phone", "email", "national_id"], purpose="collection call"
        )
        with pytest.raises(ValueError, match="not a personal-data access kind"):
            record_personal_data_access(subject=debtor, fields=["email"], purpose="x", kind=actions.LOGIN)
    stored = AuditEvent.unscoped.get(pk=event.pk)
    assert stored.action == actions.PERSONAL_DATA_READ
    assert stored.workspace_id == world.a.pk
    assert (stored.object_type, stored.object_id) == ("debtors.debtor", str(debtor.pk))
    assert stored.metadata == {"fields": ["email", "national_id", "phone"], "purpose": "collection call"}
    text = json.dumps(stored.content()).casefold()
    for value in ("asha", "rao@example", "98123", "+919812345678", "qzxpv4821k"):
        assert value not in text


# --- PostgreSQL: the application role, and concurrent writers -------------------------


@pytest.fixture
def app_role(pg):
    """The RLS-bound role (created by .ci/run); created here, inside the test's
    transaction, if this database server lacks it."""
    role = settings.TENANCY_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {connection.ops.quote_name(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute("SELECT has_table_privilege(%s, 'audit_auditevent', 'INSERT')", [role])
        if not cursor.fetchone()[0]:
            apply_rls(connection)
    return role


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET object_id = 'tampered' WHERE workspace_id = %s",
        "DELETE FROM audit_auditevent WHERE workspace_id = %s",
    ],
)
def test_the_app_role_cannot_change_or_delete_audit_rows(trail, world, app_role, statement):
    with (
        pytest.raises(DatabaseError, match="permission denied"),
        db_scope(workspace_id=world.a.pk),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(app_role)}")
        cursor.execute(statement, [world.a.pk])
    # …but it can append, and the trail is intact.
    with db_scope(workspace_id=world.a.pk), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(app_role)}")
        with workspace_context(world.a):
            audit_record(action="test.event", workspace=world.a)
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
        cursor.execute("RESET ROLE")
    assert [e.seq for e in _chain_events(world.a)] == list(range(1, len(trail) + 2))
    call_command("verify_audit_chain")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(pg, world):
    before = len(_chain_events(world.a))
    threads_n, per_thread = 4, 25
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_thread):
                with workspace_context(world.a):
                    audit_record(action="test.concurrent", workspace=world.a, object_id=f"{t}-{i}")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors
    assert not any(th.is_alive() for th in threads)

    events = _chain_events(world.a)
    written = [e for e in events if e.action == "test.concurrent"]
    assert len(written) == threads_n * per_thread
    assert len({e.object_id for e in written}) == threads_n * per_thread
    assert [e.seq for e in events] == list(range(1, before + threads_n * per_thread + 1))
    with transaction.atomic():
        call_command("verify_audit_chain", "acme")
