"""Signed checkpoints of the audit trail (ADR 0016): a checkpoint is signed only over
a chain that verifies, checkpoints chain to each other, and verification fails
loudly on a forged, foreign-key or removed checkpoint and on history rewritten
before one — even when every hash was recomputed."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from audit import actions
from audit.checkpoints import CheckpointRefused, checkpoint_sign
from audit.models import AuditChain, AuditCheckpoint, AuditEvent, chain_key
from audit.selectors import verify_chain
from audit.services import audit_record, event_hash
from audit.signing import check_checkpoint_keys, public_key_line, reset_signing_caches
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope

OTHER_KEY = "other:" + base64.b64encode(b"another-installation-signing-key").decode()


def record(workspace, n: int) -> list[AuditEvent]:
    with workspace_context(workspace):
        return [audit_record(action="test.event", workspace=workspace, object_id=str(i)) for i in range(n)]


def chain_events(workspace) -> list[AuditEvent]:
    return list(AuditEvent.unscoped.filter(chain=chain_key(getattr(workspace, "pk", None))).order_by("seq"))


def sql(statement: str, params: list | None = None) -> int:
    """As the connection's own role (the table owner): someone with database access."""
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def rehash(workspace, *, days: int | None = None, after: int = 0, edit: dict | None = None) -> None:
    """Rewrite the chain as the database owner could: optionally date its events after
    #``after`` ``days`` ago, a minute apart, optionally change the fields ``edit`` of
    event #1, and recompute every hash and the head. Test set-up for "old events" (the
    application cannot write a past time), and an attacker's rewrite."""
    events = chain_events(workspace)
    start = timezone.now() - timedelta(days=days or 0)
    prev = events[0].prev_hash if events else "0" * 64
    for i, event in enumerate(events):
        if days is not None and event.seq > after:
            event.created_at = start + timedelta(minutes=i)
        changes = dict(edit or {}) if event.seq == 1 else {}
        for name, value in changes.items():
            setattr(event, name, value)
        event.prev_hash = prev
        event.hash = event_hash(event.content())
        AuditEvent.unscoped.filter(pk=event.pk).update(
            created_at=event.created_at, prev_hash=event.prev_hash, hash=event.hash, **changes
        )
        prev = event.hash
    AuditChain.objects.filter(key=chain_key(getattr(workspace, "pk", None))).update(last_hash=prev)


def age_new_events(workspace, checkpoint: AuditCheckpoint | None, days: int = 398) -> None:
    """A later night: what was written since ``checkpoint`` is now past its period too."""
    rehash(workspace, days=days, after=checkpoint.seq if checkpoint else 0)


def old_trail(workspace, *, old: int = 6, young: int = 3) -> list[AuditEvent]:
    """The workspace's events so far plus ``old`` more, dated 400 days ago; then ``young`` new ones."""
    record(workspace, old)
    rehash(workspace, days=400)
    record(workspace, young)
    return chain_events(workspace)


def sign(workspace) -> AuditCheckpoint | None:
    return checkpoint_sign(workspace=workspace, before=timezone.now() - timedelta(days=365))


def verify(workspace):
    with workspace_context(workspace):
        return verify_chain(AuditChain.objects.get(key=chain_key(workspace.pk)))


@pytest.fixture
def keys(settings):
    """Tests that change the checkpoint keys get the parsed keys forgotten before and after."""
    reset_signing_caches()
    yield settings
    reset_signing_caches()


def test_a_checkpoint_covers_the_last_event_past_the_period_and_is_audited(world):
    events = old_trail(world.a)
    young = [e for e in events if e.created_at > timezone.now() - timedelta(days=1)]
    boundary = events[-len(young) - 1]
    checkpoint = sign(world.a)
    assert checkpoint is not None
    assert (checkpoint.chain, checkpoint.seq, checkpoint.event_hash) == (boundary.chain, boundary.seq, boundary.hash)
    assert (checkpoint.first_seq, checkpoint.previous_signature) == (1, "")
    signed = chain_events(world.a)[-1]
    assert signed.action == actions.AUDIT_CHECKPOINT_SIGNED
    assert signed.metadata["seq"] == boundary.seq and signed.metadata["signature"] == checkpoint.signature
    report = verify(world.a)
    assert report.ok, report.problem
    assert report.checkpoints == 1 and report.pruned == 0
    # The other workspace has nothing old and gets no checkpoint.
    assert sign(world.b) is None
    assert not AuditCheckpoint.unscoped.filter(workspace=world.b).exists()


def test_signing_again_adds_nothing_and_the_next_checkpoint_signs_the_one_before(world):
    old_trail(world.a)
    first = sign(world.a)
    assert sign(world.a) == first
    assert AuditCheckpoint.unscoped.filter(workspace=world.a).count() == 1
    # A day later, more events are past their period.
    record(world.a, 2)
    age_new_events(world.a, first)
    second = sign(world.a)
    assert second is not None and first is not None
    assert second.seq > first.seq
    assert second.previous_signature == first.signature
    assert verify(world.a).checkpoints == 2


def test_no_checkpoint_is_signed_over_a_tampered_chain(world):
    events = old_trail(world.a)
    victim = events[2]
    assert sql("UPDATE audit_auditevent SET object_id = 'tampered' WHERE id = %s", [victim.pk]) == 1
    with pytest.raises(CheckpointRefused, match=rf"event #{victim.seq} \(id {victim.pk}\).*row edited"):
        sign(world.a)
    assert not AuditCheckpoint.unscoped.exists()


def test_a_forged_checkpoint_fails_verification(world):
    old_trail(world.a)
    checkpoint = sign(world.a)
    assert checkpoint is not None
    # Someone with database access moves the checkpoint forward, keeping the signature.
    sql("UPDATE audit_auditcheckpoint SET first_seq = 2 WHERE id = %s", [checkpoint.pk])
    report = verify(world.a)
    assert not report.ok
    assert f"checkpoint #{checkpoint.seq} (id {checkpoint.pk})" in str(report.problem)
    assert "does not verify (checkpoint forged or altered)" in str(report.problem)
    with pytest.raises(CommandError, match="checkpoint forged"):
        call_command("verify_audit_chain", "acme")


def test_a_checkpoint_signed_with_an_unknown_key_fails_verification(world, keys):
    old_trail(world.a)
    ours = keys.AUDIT_CHECKPOINT_KEY
    keys.AUDIT_CHECKPOINT_KEY = OTHER_KEY
    reset_signing_caches()
    sign(world.a)
    keys.AUDIT_CHECKPOINT_KEY = ours
    reset_signing_caches()
    report = verify(world.a)
    assert "is signed with key 'other', which is not configured" in str(report.problem)


def test_a_removed_checkpoint_is_detected(world):
    old_trail(world.a)
    first = sign(world.a)
    record(world.a, 1)
    age_new_events(world.a, first)
    second = sign(world.a)
    assert second is not None and first is not None and second.seq > first.seq
    assert sql("DELETE FROM audit_auditcheckpoint WHERE id = %s", [second.pk]) == 1
    report = verify(world.a)
    assert not report.ok
    assert f"records a checkpoint at #{second.seq} that is missing or different" in str(report.problem)


def test_history_rewritten_before_a_checkpoint_is_detected_even_with_every_hash_recomputed(world):
    old_trail(world.a)
    checkpoint = sign(world.a)
    assert checkpoint is not None
    # The owner of the database rewrites event #1 and recomputes the whole chain and its head:
    # the chain alone cannot tell, the signed checkpoint can.
    rehash(world.a, edit={"object_id": "rewritten"})
    report = verify(world.a)
    assert not report.ok
    assert f"event #{checkpoint.seq}" in str(report.problem)
    assert "differs from the signed checkpoint" in str(report.problem)


def test_an_auditor_verifies_with_the_public_key_alone(world, keys, capsys):
    old_trail(world.a)
    checkpoint = sign(world.a)
    call_command("verify_audit_chain", "--public-key")
    public = capsys.readouterr().out.strip()
    assert public.startswith("test1:") and len(base64.b64decode(public.split(":")[1])) == 32
    keys.AUDIT_CHECKPOINT_KEY = ""
    keys.AUDIT_CHECKPOINT_PUBLIC_KEYS = public
    reset_signing_caches()
    call_command("verify_audit_chain", "acme")
    assert "1 signed checkpoint verified" in capsys.readouterr().out
    # …and cannot sign.
    record(world.a, 1)
    age_new_events(world.a, checkpoint)
    with pytest.raises(ImproperlyConfigured, match="Set the AUDIT_CHECKPOINT_KEY environment variable"):
        sign(world.a)


def test_the_global_chain_has_checkpoints_too(db):
    with db_scope():
        for i in range(4):
            audit_record(action="test.global", object_id=str(i))
    rehash(None, days=400)
    with db_scope():
        audit_record(action="test.global", object_id="young")
    checkpoint = checkpoint_sign(workspace=None, before=timezone.now() - timedelta(days=365))
    assert checkpoint is not None and checkpoint.chain == "global" and checkpoint.workspace_id is None
    assert checkpoint.seq == 4
    call_command("verify_audit_chain")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Set the AUDIT_CHECKPOINT_KEY environment variable"),
        ("k1:not base64!", "AUDIT_CHECKPOINT_KEY: key 'k1' is not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "is 5 bytes; Ed25519 needs 32"),
        (f"{OTHER_KEY},{OTHER_KEY.replace('other', 'two')}", "Set the AUDIT_CHECKPOINT_KEY"),
    ],
)
def test_a_missing_or_bad_checkpoint_key_is_a_system_check_error(keys, value, message):
    keys.AUDIT_CHECKPOINT_KEY = value
    errors = check_checkpoint_keys()
    assert [e.id for e in errors] == ["audit.E001"]
    assert message in errors[0].msg
    assert "another-installation" not in errors[0].msg
    keys.AUDIT_CHECKPOINT_KEY = OTHER_KEY
    keys.AUDIT_CHECKPOINT_PUBLIC_KEYS = "nope"
    assert [e.id for e in check_checkpoint_keys()] == ["audit.E002"]


def test_public_key_line_is_the_signing_keys_public_half(keys):
    keys.AUDIT_CHECKPOINT_KEY = OTHER_KEY
    reset_signing_caches()
    key_id, raw = public_key_line().split(":")
    assert key_id == "other" and len(base64.b64decode(raw)) == 32
    assert raw not in OTHER_KEY
