"""``manage.py erase_subject SLUG --debtor ID [--dry-run] [--reason TEXT]``: an
operator's erasure on a court order or a regulator's instruction."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line

from audit.models import AuditEvent
from debtors.models import Debtor
from kernel.crypto import keyring
from kernel.tenancy import workspace_context
from privacy_requests.models import ErasurePlan, PlanStatus
from tests.debtors.factories import make_debt
from tests.privacy_requests.erasure_world import build_person, scan_for, table_rows


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("erase_subject", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def person(world, private_storage):
    with workspace_context(world.a):
        return build_person(world.a, with_request=False)


def test_dry_run_prints_the_plan_and_changes_nothing(world, person):
    before = table_rows()
    out, _ = _run("acme", "--debtor", str(person.debtor.pk), "--dry-run")
    assert table_rows() == before
    assert "debtors.debtor.full_name" in out and "pseudonymise" in out
    assert "debtors.ledgerentry.memo" in out and "keep" in out
    assert "data key: shredded at the end" in out and "Dry run: nothing was changed." in out
    for value in person.values.values():
        assert value not in out


def test_the_command_approves_as_an_operator_and_erases(world, person):
    out, err = _run("acme", "--debtor", str(person.debtor.pk), "--reason", "Court order 12/2026, Pune")
    assert "What we erased" in out and "Erased: plan" in out
    assert "step" in err  # the progress bar
    with workspace_context(world.a):
        plan = ErasurePlan.objects.for_workspace(world.a).get(debtor_id=person.debtor.pk)
        assert plan.status == PlanStatus.DONE and plan.approved_by is None
        assert plan.reason == "Court order 12/2026, Pune"
        approved = AuditEvent.objects.get(action="erasure.approved", object_id=str(plan.pk))
        assert approved.metadata["operator"] is True and approved.metadata["reason"] == "Court order 12/2026, Pune"
        assert approved.source == "cli"
        assert keyring.subject_key_is_shredded(world.a.pk, "debtor", str(person.debtor.pk))
    assert scan_for(list(person.values.values()) + person.digests) == []


def test_running_it_again_changes_nothing_and_says_so(world, person):
    _run("acme", "--debtor", str(person.debtor.pk), "--reason", "Regulator instruction R-77", "--no-progress")
    before = table_rows()
    out, _ = _run("acme", "--debtor", str(person.debtor.pk), "--reason", "Regulator instruction R-77")
    assert "Nothing left to erase" in out and "nothing was changed" in out
    assert table_rows() == before


def test_without_a_reason_the_operator_default_is_used_and_printed(world, person):
    out = _run("acme", "--debtor", str(person.debtor.pk))
    assert "operator erasure (court order or regulator's instruction)" in str(out)


@pytest.mark.parametrize("debtor_id", ["not-a-uuid", str(uuid.uuid4())])
def test_bad_workspace_or_debtor_ids_fail_clearly(world, person, debtor_id):
    with pytest.raises(CommandError, match="No workspace with slug 'nope'"):
        _run("nope", "--debtor", str(person.debtor.pk), "--dry-run")
    with pytest.raises(CommandError, match="No debtor"):
        _run("acme", "--debtor", debtor_id, "--dry-run")


def test_a_debtor_of_another_workspace_is_not_found(world, person):
    with workspace_context(world.b):
        other = make_debt(world.b)
    with pytest.raises(CommandError, match="No debtor"):
        _run("acme", "--debtor", str(other.debtor_id), "--reason", "x")
    with workspace_context(world.b):
        assert Debtor.objects.for_workspace(world.b).get(pk=other.debtor_id).full_name.startswith("Debtor")


def test_a_failing_command_exits_non_zero(world, person, capsys):
    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "erase_subject", "nope", "--debtor", "x", "--dry-run"])
    assert exit_.value.code != 0
    assert "No workspace with slug 'nope'" in capsys.readouterr().err
