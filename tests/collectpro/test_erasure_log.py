"""The erasure log puts a restored backup beyond use again: a key shredded after the
backup was taken is shredded again by replaying the log."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.crypto import keyring
from kernel.crypto.fields import Erased
from kernel.models import SubjectKey
from kernel.tenancy import workspace_context

pytestmark = pytest.mark.django_db


def _person(workspace, name: str) -> Debtor:
    with workspace_context(workspace):
        return debtor_create(workspace=workspace, data=DebtorInput(full_name=name, email=f"{name.split()[0]}@x.org"))


def _read_name(workspace, debtor_id) -> object:
    keyring.reset_key_caches()
    with workspace_context(workspace):
        return Debtor.objects.for_workspace(workspace).get(pk=debtor_id).full_name


def test_replay_shreds_again_what_a_restored_backup_brought_back(world, tmp_path: Path):
    kept = _person(world.a, "Kept Person")
    erased = _person(world.a, "Erased Person")
    with workspace_context(world.a):
        backup = {
            (k.subject_type, k.subject_id): (bytes(k.wrapped_key), k.shredded_at)
            for k in SubjectKey.objects.for_workspace(world.a)
        }
        assert keyring.subject_key_shred(world.a.pk, "debtor", str(erased.pk))
    assert isinstance(_read_name(world.a, erased.pk), Erased)

    log = tmp_path / "erasures.jsonl"
    call_command("erasure_log", "export", "--output", str(log), stderr=StringIO())
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(row["workspace"], row["subject_id"]) for row in lines] == [("acme", str(erased.pk))]
    assert "Erased" not in log.read_text()  # ids and times only

    # The database is restored from the backup taken before the erasure.
    with workspace_context(world.a):
        for (subject_type, subject_id), (wrapped, shredded_at) in backup.items():
            SubjectKey.objects.for_workspace(world.a).filter(subject_type=subject_type, subject_id=subject_id).update(
                wrapped_key=wrapped, shredded_at=shredded_at
            )
    assert str(_read_name(world.a, erased.pk)) == "Erased Person"  # readable again: the problem

    out = StringIO()
    call_command("erasure_log", "replay", str(log), stdout=out)
    assert "shredded again: 1; already shredded: 0" in out.getvalue()
    assert isinstance(_read_name(world.a, erased.pk), Erased)
    assert str(_read_name(world.a, kept.pk)) == "Kept Person"

    out = StringIO()
    call_command("erasure_log", "replay", str(log), stdout=out)  # idempotent
    assert "shredded again: 0; already shredded: 1" in out.getvalue()


def test_a_bad_line_is_reported_by_number_and_the_rest_replays(world, tmp_path: Path):
    erased = _person(world.b, "Gone Person")
    with workspace_context(world.b):
        wrapped = bytes(SubjectKey.objects.for_workspace(world.b).get(subject_id=str(erased.pk)).wrapped_key)
        keyring.subject_key_shred(world.b.pk, "debtor", str(erased.pk))
    log = tmp_path / "erasures.jsonl"
    call_command("erasure_log", "export", "--output", str(log), stderr=StringIO())
    with workspace_context(world.b):
        SubjectKey.objects.for_workspace(world.b).filter(subject_id=str(erased.pk)).update(
            wrapped_key=wrapped, shredded_at=None
        )
    log.write_text("not json\n" + log.read_text())
    out = StringIO()
    with pytest.raises(CommandError, match="1 lines could not be read"):
        call_command("erasure_log", "replay", str(log), stdout=out)
    assert "line 1:" in out.getvalue()
    assert isinstance(_read_name(world.b, erased.pk), Erased)


def test_export_since_a_date_and_bad_dates(world):
    with pytest.raises(CommandError, match="is not a date"):
        call_command("erasure_log", "export", "--since", "yesterday")
    out = StringIO()
    call_command("erasure_log", "export", "--since", "2999-01-01", stdout=out, stderr=StringIO())
    assert out.getvalue() == ""
