"""Master-key rotation as an operator runs it: add the new key first, run
``rotate_keys`` (interruptible, resumable), then remove the old key — and no value
is unreadable at any point."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from audit import actions
from audit.models import AuditEvent
from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.crypto import keyring
from kernel.crypto.keyring import reset_key_caches
from kernel.models import SubjectKey, WorkspaceKey
from kernel.tenancy import workspace_context

K_OLD = base64.b64encode(b"o" * 32).decode()
K_NEW = base64.b64encode(b"n" * 32).decode()
OLD_ONLY = f"old:{K_OLD}"
NEW_AND_OLD = f"new:{K_NEW},old:{K_OLD}"
NEW_ONLY = f"new:{K_NEW}"


@pytest.fixture
def old_keys(db, settings):
    settings.FIELD_ENCRYPTION_KEYS = OLD_ONLY
    reset_key_caches()


@pytest.fixture
def world(old_keys, world):
    """The shared world, but built while only the old master key exists."""
    return world


def _use_keys(settings, raw: str) -> None:
    settings.FIELD_ENCRYPTION_KEYS = raw
    reset_key_caches()


def _create(workspace, n: int) -> Debtor:
    with workspace_context(workspace):
        return debtor_create(
            workspace=workspace,
            data=DebtorInput(
                full_name=f"Person {workspace.slug} {n}",
                email=f"p{n}@{workspace.slug}.example",
                phone=f"+91 98123 4{n:04d}",
            ),
        )


def _expected(workspace, n: int) -> tuple[str, str, str]:
    return f"Person {workspace.slug} {n}", f"p{n}@{workspace.slug}.example", f"+9198123{4}{n:04d}"


def _assert_all_readable(created) -> None:
    """Read every debtor from scratch (cold caches, as another process would)."""
    reset_key_caches()
    for (workspace, n), pk in created.items():
        with workspace_context(workspace):
            d = Debtor.objects.get(pk=pk)
            assert (d.full_name, d.email, d.phone) == _expected(workspace, n)


def _subject_keys_by_master(workspace) -> dict[str, int]:
    with workspace_context(workspace):
        counts: dict[str, int] = {}
        for master in SubjectKey.objects.filter(shredded_at__isnull=True).values_list(
            "workspace_key__master_key_id", flat=True
        ):
            counts[master] = counts.get(master, 0) + 1
        return counts


def _rotate(*extra: str) -> None:
    call_command("rotate_keys", *extra, "--no-progress")


def test_interrupted_rotation_keeps_data_readable_and_resumes_to_completion(world, settings):
    created = {}
    for n in range(4):
        created[(world.a, n)] = _create(world.a, n).pk
    for n in range(4, 7):
        created[(world.b, n)] = _create(world.b, n).pk
    assert set(_subject_keys_by_master(world.a)) == {"old"}

    # 1. Deploy with the new key first; nothing is re-encrypted yet, everything reads.
    _use_keys(settings, NEW_AND_OLD)
    _assert_all_readable(created)

    # 2. A throttled run stops half-way.
    _rotate("--batch-size", "2", "--max-batches", "1")
    _assert_all_readable(created)
    partly = _subject_keys_by_master(world.a)
    assert partly.get("new") == 2 and partly.get("old", 0) >= 2, partly
    assert _subject_keys_by_master(world.b).get("old", 0) >= 1
    with workspace_context(world.a):
        assert not AuditEvent.objects.filter(action=actions.KEYS_ROTATED).exists()

    # A debtor created between the runs goes straight under the new key.
    created[(world.a, 7)] = _create(world.a, 7).pk
    _assert_all_readable(created)

    # 3. Run again without limits: it continues where it stopped.
    _rotate()
    for ws in (world.a, world.b):
        assert set(_subject_keys_by_master(ws)) == {"new"}
        with workspace_context(ws):
            live = WorkspaceKey.objects.filter(retired_at__isnull=True)
            assert set(live.values_list("master_key_id", flat=True)) == {"new"}
            retired = WorkspaceKey.objects.filter(master_key_id="old")
            assert retired.exists()
            assert all(wk.retired_at is not None and bytes(wk.wrapped_key) == b"" for wk in retired)
            event = AuditEvent.objects.get(action=actions.KEYS_ROTATED)
            assert event.metadata["master_key_id"] == "new" and event.metadata["retired"] >= 1

    # 4. Remove the old master key: every value still decrypts.
    _use_keys(settings, NEW_ONLY)
    _assert_all_readable(created)
    call_command("verify_audit_chain")


def test_removing_the_old_key_before_rotating_fails_loudly_not_silently(world, settings):
    debtor = _create(world.a, 1)
    _use_keys(settings, NEW_ONLY)
    with workspace_context(world.a):
        again = Debtor.objects.get(pk=debtor.pk)
        with pytest.raises(ImproperlyConfigured, match=r"Master key 'old' .*Add it back"):
            _ = again.email
    _use_keys(settings, NEW_AND_OLD)
    with workspace_context(world.a):
        assert Debtor.objects.get(pk=debtor.pk).email == "p1@acme.example"


def test_rotating_twice_is_a_no_op(world, settings):
    pk = _create(world.a, 1).pk
    _use_keys(settings, NEW_AND_OLD)
    _rotate()
    with workspace_context(world.a):
        keys_after_first = set(WorkspaceKey.objects.values_list("pk", flat=True))
    _rotate()
    with workspace_context(world.a):
        assert set(WorkspaceKey.objects.values_list("pk", flat=True)) == keys_after_first
        assert Debtor.objects.get(pk=pk).email == "p1@acme.example"


def test_a_worker_with_a_stale_key_cache_does_not_write_under_a_retired_key(world, settings):
    """Web workers cache the active workspace key for minutes. A rotation run
    elsewhere (here: --new-workspace-keys, same master key) retires that key and
    erases it; a debtor the stale worker creates afterwards must stay readable."""
    first = _create(world.a, 1)
    worker_memory = dict(keyring._wk_cache._data)  # what a long-running worker holds
    _rotate("--new-workspace-keys")
    with workspace_context(world.a):
        assert WorkspaceKey.objects.filter(retired_at__isnull=False).exists()
    keyring._wk_cache._data.update(worker_memory)  # the worker never saw the rotation

    second = _create(world.a, 2)

    _assert_all_readable({(world.a, 1): first.pk, (world.a, 2): second.pk})
    with workspace_context(world.a):
        sk = SubjectKey.objects.get(subject_type="debtor", subject_id=str(second.pk))
        assert sk.workspace_key.retired_at is None
