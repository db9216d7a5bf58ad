"""Erasure for inactivity (privacy_requests.inactive_people): who the nightly purge
erases, what it keeps, and that it is safe to run again or to resume."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from debtors.models import Debt, DebtEvent, Debtor, HoldScope
from debtors.services.disputes import dispute_open
from kernel.retention import PurgeContext
from kernel.tenancy import workspace_context
from privacy_requests import erasure
from privacy_requests.models import ErasurePlan, PlanStatus
from privacy_requests.retention_people import people_due, people_erase
from retention.holds import legal_hold_lift, legal_hold_place
from retention.schedules import retention_setting_set
from tests.conftest import PASSWORD
from tests.privacy_requests.erasure_world import ledger_totals
from tests.privacy_requests.retention_world import (
    YEAR,
    active_person,
    erased,
    paid_person,
    people_counts,
    purge,
)


def _debtor(workspace, debtor_id) -> Debtor:
    with workspace_context(workspace):
        return Debtor.objects.for_workspace(workspace).get(pk=debtor_id)


def test_a_paid_debtor_with_old_activity_is_erased_and_the_others_are_not(
    world, private_storage, django_capture_on_commit_callbacks
):
    b = world.b  # US: 3 years after the last collection activity, no notice
    with workspace_context(b):
        old_paid = paid_person(b)
        old_active = active_person(b)
        recent_paid = paid_person(b, age=2 * YEAR)
        client_user = User.objects.create_user(email="analyst@lonestar.example", password=PASSWORD)
        membership_add(workspace=b, user=client_user, role=Role.AUDITOR, client=old_paid.client)
    before = ledger_totals(b)

    with django_capture_on_commit_callbacks(execute=True):
        run = purge(b)

    assert run.status == "done" and people_counts(run) == {"erase_person": 1}
    assert erased(b, old_paid.debtor_id)
    assert not erased(b, old_active.debtor_id) and not erased(b, recent_paid.debtor_id)
    assert _debtor(b, old_paid.debtor_id).full_name.startswith("Erased person")
    assert _debtor(b, old_active.debtor_id).full_name != ""
    # The books are kept, and the audit chain still verifies.
    assert ledger_totals(b) == before
    call_command("verify_audit_chain")
    with workspace_context(b):
        line = DebtEvent.objects.for_workspace(b).filter(debt_id=old_paid.pk, kind="privacy.erasure").get()
        plan = ErasurePlan.objects.for_workspace(b).get(debtor_id=old_paid.debtor_id)
    assert "at the end of its retention period" in line.summary and str(run.pk) in line.summary
    assert plan.request is None and plan.retention_run == str(run.pk) and plan.reason == f"retention purge {run.pk}"
    # No one asked: no statement to the person, no email to the client.
    assert mail.outbox == []


def test_a_second_run_does_nothing(world, private_storage):
    b = world.b
    with workspace_context(b):
        paid_person(b)
    purge(b)
    with workspace_context(b):
        plans = ErasurePlan.objects.for_workspace(b).count()
    again = purge(b)
    assert people_counts(again) == {}
    with workspace_context(b):
        assert ErasurePlan.objects.for_workspace(b).count() == plans


def test_a_dry_run_changes_nothing_and_lists_who_would_go(world, private_storage):
    b = world.b
    with workspace_context(b):
        debt = paid_person(b)
    run = purge(b, dry_run=True)
    assert people_counts(run) == {"erase_person": 1}
    listing = run.progress["privacy_requests.inactive_people"]["listing"]
    assert listing == [f"debtor {debt.debtor_id}: last collection activity {debt.created_at:%Y-%m-%d}"]
    assert not erased(b, debt.debtor_id)
    with workspace_context(b):
        assert not ErasurePlan.objects.for_workspace(b).exists()
        assert _debtor(b, debt.debtor_id).full_name.startswith("Debtor")


def test_a_workspace_that_keeps_collection_records_longer_keeps_people_longer(world, private_storage):
    b = world.b
    with workspace_context(b):
        debt = paid_person(b)
        retention_setting_set(workspace=b, category="COLLECTION_RECORDS", days=5 * 365, reason="agency policy")
    purge(b)
    assert not erased(b, debt.debtor_id)
    purge(b, now=timezone.now() + YEAR + timedelta(days=2))
    assert erased(b, debt.debtor_id)


def test_an_open_dispute_keeps_the_person(world, private_storage):
    b = world.b
    with workspace_context(b):
        debt = paid_person(b)
        dispute_open(debt=debt, reason="wrong_amount", details="I paid this already")
        Debt.objects.for_workspace(b).filter(pk=debt.pk).update(updated_at=timezone.now() - 4 * YEAR)
    purge(b)
    assert not erased(b, debt.debtor_id)


def _hold(workspace, scope: str, debt: Debt, actor):
    targets: dict[str, dict[str, Any]] = {
        HoldScope.DEBTOR: {"debtor": debt.debtor},
        HoldScope.DEBT: {"debt": debt},
        HoldScope.PORTFOLIO: {"client": debt.client},
        HoldScope.WORKSPACE: {},
    }
    target = targets[scope]
    return legal_hold_place(
        workspace=workspace,
        scope=scope,
        reason="litigation",
        case_reference="CASE-2026-17",
        review_on=timezone.localdate() + timedelta(days=90),
        actor=actor,
        **target,
    )


@pytest.mark.parametrize("scope", [HoldScope.DEBTOR, HoldScope.DEBT, HoldScope.PORTFOLIO, HoldScope.WORKSPACE])
def test_a_legal_hold_of_any_scope_keeps_the_person_until_it_is_lifted(world, private_storage, scope):
    b = world.b
    with workspace_context(b):
        held = paid_person(b)
        hold = _hold(b, scope, held, world.bob)
    run = purge(b)
    assert people_counts(run) == {} and not erased(b, held.debtor_id)
    with workspace_context(b):
        legal_hold_lift(workspace=b, hold=hold, reason="case settled", actor=world.bob)
    purge(b)
    assert erased(b, held.debtor_id)


def test_a_hold_on_someone_else_does_not_keep_this_person(world, private_storage):
    b = world.b
    with workspace_context(b):
        held, free = paid_person(b), paid_person(b)
        _hold(b, HoldScope.DEBTOR, held, world.bob)
    purge(b)
    assert not erased(b, held.debtor_id) and erased(b, free.debtor_id)


def test_a_closed_workspace_past_its_purge_date_loses_every_unheld_person(world, private_storage):
    b = world.b
    with workspace_context(b):
        active = active_person(b, age=timedelta(days=1))
        recent = paid_person(b, age=timedelta(days=1))
        held = active_person(b, age=timedelta(days=1))
        _hold(b, HoldScope.DEBT, held, world.bob)
    type(b).objects.filter(pk=b.pk).update(closed_at=timezone.now() - timedelta(days=40), purge_after=timezone.now())
    b.refresh_from_db()
    before = ledger_totals(b)

    run = purge(b, now=timezone.now() + timedelta(minutes=1))

    assert people_counts(run) == {"erase_person": 2}
    assert erased(b, active.debtor_id) and erased(b, recent.debtor_id)
    assert not erased(b, held.debtor_id)
    assert ledger_totals(b) == before


def test_a_closed_workspace_before_its_purge_date_keeps_its_active_people(world, private_storage):
    b = world.b
    with workspace_context(b):
        active = active_person(b, age=timedelta(days=1))
    type(b).objects.filter(pk=b.pk).update(closed_at=timezone.now(), purge_after=timezone.now() + timedelta(days=30))
    b.refresh_from_db()
    purge(b)
    assert not erased(b, active.debtor_id)


def test_a_batch_interrupted_mid_person_continues_the_same_plan_and_counts_the_same(
    world, private_storage, monkeypatch
):
    b = world.b
    with workspace_context(b):
        first, second = paid_person(b), paid_person(b)
    ctx = PurgeContext(workspace=b, now=timezone.now(), days=3 * 365, run_id="run-1", reason="retention purge run-1")
    with workspace_context(b):
        keys = sorted(str(pk) for pk in people_due(ctx).values_list("pk", flat=True))
    assert keys == sorted([str(first.debtor_id), str(second.debtor_id)])

    calls = {"n": 0}
    real_shred = erasure._Run._shred

    def shred_then_die(self, plan):
        calls["n"] += 1
        if calls["n"] == 2:  # the worker dies while erasing the second person
            raise RuntimeError("worker killed")
        return real_shred(self, plan)

    monkeypatch.setattr(erasure._Run, "_shred", shred_then_die)
    with pytest.raises(RuntimeError):
        people_erase(ctx, keys)
    monkeypatch.setattr(erasure._Run, "_shred", real_shred)

    assert people_erase(ctx, keys) == 2
    assert people_erase(ctx, keys) == 2  # and again: the same count, nothing more done
    with workspace_context(b):
        plans = list(ErasurePlan.objects.for_workspace(b).order_by("created_at"))
    assert len(plans) == 2 and {p.status for p in plans} == {PlanStatus.DONE}
    assert erased(b, first.debtor_id) and erased(b, second.debtor_id)


def test_a_plan_left_by_a_failed_run_is_continued_by_the_next_run(world, private_storage, monkeypatch):
    b = world.b
    with workspace_context(b):
        debt = paid_person(b)
    real_shred = erasure._Run._shred

    def die(self, plan):
        raise RuntimeError("disk full")

    monkeypatch.setattr(erasure._Run, "_shred", die)
    failed = purge(b)
    assert failed.status == "failed" and not erased(b, debt.debtor_id)
    monkeypatch.setattr(erasure._Run, "_shred", real_shred)

    run = purge(b)

    assert people_counts(run) == {"erase_person": 1} and erased(b, debt.debtor_id)
    with workspace_context(b):
        plan = ErasurePlan.objects.for_workspace(b).get(debtor_id=debt.debtor_id)
    assert plan.status == PlanStatus.DONE and plan.retention_run == str(failed.pk)
