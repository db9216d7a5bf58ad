"""retention.holds: placing, reviewing and lifting legal holds. A hold on each scope
flags exactly the debts it covers; lifting clears the flag unless another hold still
covers; the same target may be held twice and each hold is lifted on its own; every
change is audited and told on the timeline of one debt or one person's debts."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError

from audit import actions
from audit.models import AuditEvent
from debtors.models import Debt, DebtEvent, Debtor, LegalHold
from debtors.services.debts import DebtInput, debt_create
from debtors.services.holds import debtors_unheld
from kernel.tenancy import workspace_context
from retention.holds import legal_hold_lift, legal_hold_place, legal_hold_review
from tests.conftest import World
from tests.retention.ui_world import Floor, build_floor, held

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=IST)
REVIEW = date(2026, 6, 1)


@pytest.fixture
def floor(world: World) -> Floor:
    return build_floor(world)


def place(f: Floor, scope: str, **target) -> LegalHold:
    with workspace_context(f.ws):
        return legal_hold_place(
            workspace=f.ws,
            scope=scope,
            reason="litigation",
            case_reference="CS/1234/2026",
            review_on=REVIEW,
            actor=f.manager,
            now=NOW,
            **target,
        )


def lift(f: Floor, hold: LegalHold, reason: str = "Case dismissed on 2026-05-01") -> LegalHold:
    with workspace_context(f.ws):
        return legal_hold_lift(workspace=f.ws, hold=hold, reason=reason, actor=f.manager, now=NOW)


def timeline(debt: Debt) -> list[str]:
    with workspace_context(debt.workspace):
        return list(
            DebtEvent.objects.for_workspace(debt.workspace)
            .filter(debt=debt, kind="legal_hold")
            .order_by("created_at")
            .values_list("summary", flat=True)
        )


@pytest.mark.parametrize(
    ("scope", "target", "expected"),
    [
        ("debt", "meera_1", {"MEERA-1"}),
        ("debtor", "meera_1.debtor", {"MEERA-1", "MEERA-2"}),
        ("portfolio", "konkan", {"RAVI-1"}),
        ("workspace", None, {"MEERA-1", "MEERA-2", "RAVI-1"}),
    ],
)
def test_a_hold_flags_exactly_the_debts_it_covers(floor: Floor, scope, target, expected):
    kwargs = {}
    if target:
        obj = floor
        for part in target.split("."):
            obj = getattr(obj, part)
        kwargs[{"debt": "debt", "debtor": "debtor", "portfolio": "client"}[scope]] = obj
    hold = place(floor, scope, **kwargs)
    assert held(floor.ws) == expected
    assert held(floor.world.b) == set()  # the other workspace's debts are untouched
    assert hold.placed_by == floor.manager and hold.placed_at == NOW and hold.active


def test_a_portfolio_hold_covers_debts_the_client_places_later(floor: Floor):
    place(floor, "portfolio", client=floor.konkan)
    with workspace_context(floor.ws):
        later = debt_create(
            workspace=floor.ws,
            client=floor.konkan,
            debtor=floor.meera_1.debtor,
            data=DebtInput(reference="LATER-1", original_amount_minor=1000, currency="INR"),
        )
    assert later.reference in held(floor.ws)
    assert "MEERA-1" not in held(floor.ws)


def test_lifting_clears_the_flag_unless_another_hold_still_covers(floor: Floor):
    on_debt = place(floor, "debt", debt=floor.meera_1)
    on_person = place(floor, "debtor", debtor=floor.meera_1.debtor)
    assert held(floor.ws) == {"MEERA-1", "MEERA-2"}

    lift(floor, on_person)
    assert held(floor.ws) == {"MEERA-1"}  # the debt's own hold still covers it
    assert timeline(floor.meera_1)[-1].endswith("another hold still covers this debt")
    assert timeline(floor.meera_2)[-1] == "Legal hold lifted (litigation)"

    lift(floor, on_debt)
    assert held(floor.ws) == set()


def test_the_same_debt_held_twice_is_two_holds_each_lifted_on_its_own(floor: Floor):
    first = place(floor, "debt", debt=floor.meera_1)
    second = place(floor, "debt", debt=floor.meera_1)
    assert first.pk != second.pk

    lifted = lift(floor, first)
    assert lifted.lifted_at == NOW and lifted.lifted_by == floor.manager
    assert lifted.lift_reason == "Case dismissed on 2026-05-01"
    assert held(floor.ws) == {"MEERA-1"}

    with pytest.raises(ValidationError, match="already lifted"):
        lift(floor, first)
    lift(floor, second)
    assert held(floor.ws) == set()


def test_a_workspace_hold_lifted_releases_everything_but_what_a_portfolio_hold_keeps(floor: Floor):
    everything = place(floor, "workspace")
    place(floor, "portfolio", client=floor.sahyadri)
    lift(floor, everything)
    assert held(floor.ws) == {"MEERA-1", "MEERA-2"}


def test_a_held_person_is_left_out_of_what_may_be_erased(floor: Floor):
    place(floor, "debt", debt=floor.meera_2)
    with workspace_context(floor.ws):
        everyone = Debtor.objects.for_workspace(floor.ws).all()
        unheld = set(debtors_unheld(workspace=floor.ws, debtors=everyone).values_list("pk", flat=True))
    assert floor.meera_1.debtor_id not in unheld
    assert floor.ravi.debtor_id in unheld


def test_timeline_lines_go_on_one_debt_or_one_persons_debts_only(floor: Floor):
    place(floor, "debt", debt=floor.ravi)
    assert timeline(floor.ravi) == ["Legal hold placed (litigation); review by 2026-06-01"]
    place(floor, "debtor", debtor=floor.meera_1.debtor)
    assert len(timeline(floor.meera_1)) == len(timeline(floor.meera_2)) == 1
    before = {d.reference: len(timeline(d)) for d in (floor.meera_1, floor.meera_2, floor.ravi)}
    place(floor, "portfolio", client=floor.sahyadri)
    place(floor, "workspace")
    assert {d.reference: len(timeline(d)) for d in (floor.meera_1, floor.meera_2, floor.ravi)} == before


def test_placing_lifting_and_reviewing_are_audited_without_the_case_reference(floor: Floor):
    hold = place(floor, "debt", debt=floor.meera_1)
    with workspace_context(floor.ws):
        legal_hold_review(workspace=floor.ws, hold=hold, review_on=date(2026, 9, 1), actor=floor.manager, now=NOW)
    lift(floor, hold)
    with workspace_context(floor.ws):
        events = list(AuditEvent.objects.filter(workspace_id=floor.ws.pk, object_id=str(hold.pk)).order_by("seq"))
    assert [e.action for e in events] == [
        actions.LEGAL_HOLD_PLACED,
        actions.LEGAL_HOLD_REVIEWED,
        actions.LEGAL_HOLD_LIFTED,
    ]
    placed, reviewed, lifted = (e.metadata for e in events)
    assert placed["scope"] == "debt" and placed["debt"] == str(floor.meera_1.pk) and placed["debts_newly_held"] == 1
    assert reviewed["was"] == "2026-06-01" and reviewed["review_on"] == "2026-09-01"
    assert lifted["debts_released"] == 1
    assert all(e.actor_user_id == floor.manager.pk for e in events)
    assert not any("CS/1234" in str(e.metadata) or "dismissed" in str(e.metadata) for e in events)


def test_review_moves_the_date_and_refuses_a_past_date_or_a_lifted_hold(floor: Floor):
    hold = place(floor, "debt", debt=floor.meera_1)
    with workspace_context(floor.ws):
        with pytest.raises(ValidationError) as past:
            legal_hold_review(workspace=floor.ws, hold=hold, review_on=date(2026, 3, 2), now=NOW)
        assert "after today (2026-03-02)" in str(past.value)
        legal_hold_review(workspace=floor.ws, hold=hold, review_on=date(2026, 12, 1), now=NOW)
        assert LegalHold.objects.for_workspace(floor.ws).get(pk=hold.pk).review_on == date(2026, 12, 1)
    assert timeline(floor.meera_1)[-1] == "Legal hold reviewed: still needed; next review 2026-12-01"
    lift(floor, hold)
    with workspace_context(floor.ws), pytest.raises(ValidationError, match="already lifted"):
        legal_hold_review(workspace=floor.ws, hold=hold, review_on=date(2026, 12, 2), now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scope": "debt"}, "debt"),  # no target
        ({"scope": "portfolio"}, "client"),
        ({"scope": "workspace", "target": "meera_1"}, "scope"),  # a target the scope does not take
        ({"scope": "debt", "target": "other"}, "debt"),  # another workspace's debt
        ({"scope": "debt", "target": "meera_1", "reason": "because"}, "reason"),
        ({"scope": "debt", "target": "meera_1", "review_on": date(2026, 3, 2)}, "review_on"),  # today
        ({"scope": "debt", "target": "meera_1", "review_on": date(2040, 1, 1)}, "review_on"),
        ({"scope": "debt", "target": "meera_1", "case_reference": "x" * 201}, "case_reference"),
        ({"scope": "everything"}, "scope"),
    ],
)
def test_place_refuses_what_is_not_a_valid_hold(floor: Floor, kwargs, field):
    args = {"reason": "regulator_inquiry", "review_on": REVIEW, **kwargs}
    target = args.pop("target", None)
    if target:
        args["debt"] = getattr(floor, target)
    with workspace_context(floor.ws), pytest.raises(ValidationError) as refused:
        legal_hold_place(workspace=floor.ws, now=NOW, **args)
    assert field in refused.value.message_dict
    assert held(floor.ws) == set()
    with workspace_context(floor.ws):
        assert not LegalHold.objects.for_workspace(floor.ws).exists()


def test_lift_needs_a_reason(floor: Floor):
    hold = place(floor, "workspace")
    with pytest.raises(ValidationError) as refused:
        lift(floor, hold, reason="   ")
    assert "reason" in refused.value.message_dict
    assert held(floor.ws) == {"MEERA-1", "MEERA-2", "RAVI-1"}
