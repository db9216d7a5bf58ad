"""Erasure honours every legal hold (on the person, a debt, a client's portfolio, the
workspace) and each workspace's own retention periods."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.services import client_create
from debtors.models import HoldScope
from kernel.tenancy import workspace_context
from privacy_requests import erasure
from privacy_requests.erasure_rules import erasure_decide
from retention.holds import legal_hold_lift, legal_hold_place
from retention.schedules import retention_setting_set
from tests.privacy_requests.erasure_world import build_person


@pytest.fixture
def person(world, private_storage):
    with workspace_context(world.a):
        return build_person(world.a, with_request=True)


def _place(world, person, scope: str, **target):
    with workspace_context(world.a):
        return legal_hold_place(
            workspace=world.a,
            scope=scope,
            reason="litigation",
            case_reference="HC-77/2026",
            review_on=timezone.localdate() + timedelta(days=90),
            actor=world.alice,
            **target,
        )


def _holds(world, person) -> list[tuple[str, str]]:
    with workspace_context(world.a):
        decisions = erasure_decide(workspace=world.a, debtor=person.debtor)
    return sorted((h.reference, h.reason) for h in decisions.holds)


def test_a_portfolio_hold_keeps_every_debt_the_client_placed_and_says_which_hold(
    world, person, django_capture_on_commit_callbacks
):
    _place(world, person, HoldScope.PORTFOLIO, client=person.debts[0].client)
    with workspace_context(world.a):
        plan = erasure.erasure_plan(workspace=world.a, debtor=person.debtor, request=person.request, actor=world.alice)
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        plan = erasure.erasure_execute(plan=plan)

    reasons = {h["reference"]: h["reason"] for h in plan.plan["holds"]}
    assert reasons == {
        "ZQ-1": "debt ZQ-1 is under a legal hold on the client's portfolio (litigation, case HC-77/2026)",
        "ZQ-2": "debt ZQ-2 is under a legal hold on the client's portfolio (litigation, case HC-77/2026)",
    }
    assert {h["scope"] for h in plan.plan["holds"]} == {"portfolio"}
    assert (
        "Debt ZQ-1 is under a legal hold on the client's portfolio (litigation, case HC-77/2026)"
        in (plan.statement["text"])
    )
    assert plan.statement["outcome"] == "partly_fulfilled"
    with workspace_context(world.a):
        debtor = type(person.debtor).objects.for_workspace(world.a).get(pk=person.debtor.pk)
    assert debtor.full_name == person.values["full_name"] and debtor.processing_restricted


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        (HoldScope.DEBTOR, "on the person"),
        (HoldScope.WORKSPACE, "on the whole workspace"),
    ],
)
def test_a_hold_on_the_person_or_the_workspace_keeps_all_their_debts(world, person, scope, words):
    target = {"debtor": person.debtor} if scope == HoldScope.DEBTOR else {}
    _place(world, person, scope, **target)
    assert _holds(world, person) == [
        ("ZQ-1", f"debt ZQ-1 is under a legal hold {words} (litigation, case HC-77/2026)"),
        ("ZQ-2", f"debt ZQ-2 is under a legal hold {words} (litigation, case HC-77/2026)"),
    ]


def test_a_hold_on_one_debt_keeps_that_debt_only_and_lifting_it_frees_it(world, person):
    hold = _place(world, person, HoldScope.DEBT, debt=person.debts[1])
    assert _holds(world, person) == [("ZQ-2", "debt ZQ-2 is under a legal hold (litigation, case HC-77/2026)")]
    with workspace_context(world.a):
        legal_hold_lift(workspace=world.a, hold=hold, reason="judgment final", actor=world.alice)
    assert _holds(world, person) == []


def test_a_hold_on_another_client_portfolio_does_not_reach_this_person(world, person):
    with workspace_context(world.a):
        other = client_create(workspace=world.a, name="Other Bank", reference="OTHER")
    _place(world, person, HoldScope.PORTFOLIO, client=other)
    assert _holds(world, person) == []


def test_erasure_keeps_the_books_for_the_workspace_s_own_period(world, person):
    with workspace_context(world.a):
        default = erasure_decide(workspace=world.a, debtor=person.debtor).books["until"]
        retention_setting_set(
            workspace=world.a, category="FINANCIAL_RECORDS", days=12 * 365, reason="the client's contract"
        )
        longer = erasure_decide(workspace=world.a, debtor=person.debtor).books["until"]
    assert date.fromisoformat(longer) - date.fromisoformat(default) == timedelta(days=4 * 365)
