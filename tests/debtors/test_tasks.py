"""debtors.tasks through a real Celery worker on Redis (tests/celery_worker.py).

The worker runs in a thread and reads the rows these tests commit, hence
``django_db(transaction=True)``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.result import AsyncResult, EagerResult
from django.utils import timezone

from accounts.models import Client
from debtors.models import (
    Debt,
    DebtEvent,
    DebtStatus,
    Installment,
    InstallmentStatus,
    OfferStatus,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
    SettlementOffer,
)
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.offers import offer_create
from debtors.services.plans import plan_create
from debtors.services.promises import promise_create
from debtors.tasks import collections_upkeep, collections_upkeep_all
from kernel.tenancy import workspace_context
from tests.celery_worker import celery_redis_worker, published_tasks  # noqa: F401  (fixture)

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("celery_redis_worker"),
]

RESULT_TIMEOUT = 30


def _active_debt(workspace, reference: str, amount: int = 300_000) -> Debt:
    currency = "INR" if workspace.jurisdiction == "IN" else "USD"
    with workspace_context(workspace):
        client = Client.objects.for_workspace(workspace).get()
        debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name=f"Debtor {reference}"))
        debt = debt_create(
            workspace=workspace,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=reference, original_amount_minor=amount, currency=currency),
        )
        return debt_change_status(debt=debt, status=DebtStatus.ACTIVE)


def _plan_with_overdue_installment(workspace, reference: str) -> PaymentPlan:
    debt = _active_debt(workspace, reference)
    today = timezone.localdate()
    with workspace_context(workspace):
        plan = plan_create(debt=debt, total_minor=300_000, count=3, frequency="monthly", first_due=today)
        Installment.objects.for_workspace(workspace).filter(plan=plan, seq=1).update(due_on=today - timedelta(days=3))
    return plan


def test_collections_upkeep_runs_on_the_worker_and_does_each_job(world):
    plan = _plan_with_overdue_installment(world.a, "PLAN-1")
    promised = _active_debt(world.a, "PROMISE-1")
    offered = _active_debt(world.a, "OFFER-1")
    with workspace_context(world.a):
        promise = promise_create(debt=promised, amount_minor=50_000, due_on=timezone.localdate())
        PromiseToPay.objects.for_workspace(world.a).filter(pk=promise.pk).update(
            due_on=timezone.localdate() - timedelta(days=2)
        )
        offer = offer_create(debt=offered, amount_minor=150_000, expires_at=timezone.now() + timedelta(days=7))
        SettlementOffer.objects.for_workspace(world.a).filter(pk=offer.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )

    result = collections_upkeep.delay(world.a.pk)
    counts = result.get(timeout=RESULT_TIMEOUT)

    # Ran by the worker through the broker, and the result came back through Redis.
    assert not isinstance(result, EagerResult)
    assert type(result.backend).__name__ == "RedisBackend" and result.state == "SUCCESS"
    rescored = counts.pop("priorities_changed")
    assert counts == {
        "installments_missed": 1,
        "promises_kept": 0,
        "promises_broken": 1,
        "offers_expired": 1,
    }
    # The plan's and the promise's debts went back to active, and were re-scored as
    # they moved: the hourly sweep finds nothing left to change.
    assert rescored == 0
    with workspace_context(world.a):
        assert Debt.objects.for_workspace(world.a).get(pk=plan.debt_id).priority_score == 250 + 100 + 200 + 50
    with workspace_context(world.a):
        first = Installment.objects.for_workspace(world.a).get(plan=plan, seq=1)
        assert first.status == InstallmentStatus.MISSED
        assert PaymentPlan.objects.for_workspace(world.a).get(pk=plan.pk).status == PlanStatus.BROKEN
        assert Debt.objects.for_workspace(world.a).get(pk=plan.debt_id).status == DebtStatus.ACTIVE
        assert (
            DebtEvent.objects.for_workspace(world.a).filter(debt_id=plan.debt_id, kind="installment_missed").count()
            == 1
        )
        assert PromiseToPay.objects.for_workspace(world.a).get(pk=promise.pk).status == PromiseStatus.BROKEN
        assert Debt.objects.for_workspace(world.a).get(pk=promised.pk).status == DebtStatus.ACTIVE
        assert SettlementOffer.objects.for_workspace(world.a).get(pk=offer.pk).status == OfferStatus.EXPIRED

    # Safe to run twice: the second run finds nothing left to do.
    again = collections_upkeep.delay(world.a.pk).get(timeout=RESULT_TIMEOUT)
    assert again == {
        "installments_missed": 0,
        "promises_kept": 0,
        "promises_broken": 0,
        "offers_expired": 0,
        "priorities_changed": 0,
    }
    with workspace_context(world.a):
        assert (
            DebtEvent.objects.for_workspace(world.a).filter(debt_id=plan.debt_id, kind="installment_missed").count()
            == 1
        )


def test_collections_upkeep_all_fans_out_one_task_per_workspace(world):
    plan_a = _plan_with_overdue_installment(world.a, "PLAN-A")
    plan_b = _plan_with_overdue_installment(world.b, "PLAN-B")

    with published_tasks() as published:
        assert collections_upkeep_all.delay().get(timeout=RESULT_TIMEOUT) == 2
        children = [t for t in published if t.name == collections_upkeep.name]
        assert sorted(t.args for t in children) == sorted([(world.a.pk,), (world.b.pk,)])
        # Wait for the workspaces' own tasks before reading the database.
        results = {
            t.args[0]: AsyncResult(t.id, app=collections_upkeep.app).get(timeout=RESULT_TIMEOUT) for t in children
        }

    assert results[world.a.pk]["installments_missed"] == 1
    assert results[world.b.pk]["installments_missed"] == 1
    for ws, plan in ((world.a, plan_a), (world.b, plan_b)):
        with workspace_context(ws):
            assert PaymentPlan.objects.for_workspace(ws).get(pk=plan.pk).status == PlanStatus.BROKEN
            # Only the overdue installment: the later ones are not due yet.
            statuses = (
                Installment.objects.for_workspace(ws).filter(plan=plan).order_by("seq").values_list("status", flat=True)
            )
            assert list(statuses) == [InstallmentStatus.MISSED, InstallmentStatus.PENDING, InstallmentStatus.PENDING]


def test_communications_upkeep_runs_on_the_worker(world):
    """The hourly upkeep is its own task: a message stuck in the hand-off is failed,
    and a second run finds nothing left. (Rejects files past their retention are
    deleted by the nightly purge: tests/retention/test_stores_placements.py.)"""
    from communications.models import Communication
    from communications.tasks import communications_upkeep

    debt = _active_debt(world.a, "STUCK-1")
    with workspace_context(world.a):
        stuck = Communication.objects.create(
            workspace=world.a,
            debt=debt,
            debtor_id=debt.debtor_id,
            channel="email",
            direction="outbound",
            status="sending",
            occurred_at=timezone.now() - timedelta(hours=3),
        )

    assert communications_upkeep.delay(world.a.pk).get(timeout=RESULT_TIMEOUT) == {"messages_unstuck": 1}
    with workspace_context(world.a):
        assert Communication.objects.get(pk=stuck.pk).status == "failed"
    assert communications_upkeep.delay(world.a.pk).get(timeout=RESULT_TIMEOUT) == {"messages_unstuck": 0}
