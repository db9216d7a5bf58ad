"""debtors services: debtors, debts, statuses, plans, promises, offers, disputes,
records, the timeline and tenant isolation — as an agent would see them."""

from __future__ import annotations

import hashlib
import itertools
import struct
import zlib
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import Client
from accounts.services import client_create
from communications.log import communication_log
from communications.models import Communication
from debtors.models import (
    ALLOWED_TRANSITIONS,
    Debt,
    DebtEvent,
    Debtor,
    DebtStatus,
    DisputeStatus,
    Document,
    EntryKind,
    Installment,
    LedgerEntry,
    Note,
    OfferStatus,
    PaymentPlan,
    PlanStatus,
    PromiseStatus,
    PromiseToPay,
    SettlementOffer,
)
from debtors.selectors import balance_breakdown, debt_get, related_get, timeline_for_debt
from debtors.services import records as records_module
from debtors.services.debtors import DebtorInput, debtor_create, debtor_review_minor
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.disputes import dispute_open, dispute_resolve
from debtors.services.ledger import adjustment_post, entry_reverse, fee_post, payment_record
from debtors.services.offers import offer_create, offer_settle, offers_expire
from debtors.services.plans import installments_mark_missed, plan_create, plan_schedule
from debtors.services.promises import promise_create, promises_evaluate
from debtors.services.records import document_upload, note_add
from kernel.tenancy import workspace_context

_refs = itertools.count(1)
S = DebtStatus


def _client(workspace) -> Client:
    return Client.objects.for_workspace(workspace).order_by("created_at").first()


def _debtor(workspace, **data) -> Debtor:
    return debtor_create(workspace=workspace, data=DebtorInput(**{"full_name": "Asha Rao", **data}))


def _debt(workspace, amount: int = 10_000, *, status: str | None = None, debtor=None, currency: str = "INR") -> Debt:
    debt = debt_create(
        workspace=workspace,
        client=_client(workspace),
        debtor=debtor or _debtor(workspace),
        data=DebtInput(reference=f"LN-{next(_refs)}", original_amount_minor=amount, currency=currency),
    )
    if status is not None:
        debt = debt_change_status(debt=debt, status=status)
    return debt


def _fresh(obj):
    return type(obj).objects.for_workspace(obj.workspace_id).get(pk=obj.pk)


def _raw_column(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(column)} FROM {connection.ops.quote_name(table)} WHERE id = %s",  # noqa: S608  (names are constants)
            [Debt._meta.pk.get_db_prep_value(pk, connection)],
        )
        return cursor.fetchone()[0]


def _event_kinds(debt: Debt) -> list[str]:
    return [e.kind for e in timeline_for_debt(debt=debt)]


# --- Debtors -----------------------------------------------------------------


def test_debtor_create_normalises_contact_details_for_the_workspace_region(world):
    with workspace_context(world.a):
        created = _debtor(world.a, full_name="  Asha   Rao ", email=" Asha.Rao@Example.COM ", phone="98123 45678")
        debtor = _fresh(created)
        assert debtor.phone == "+919812345678"
        assert debtor.email == "asha.rao@example.com"
        assert debtor.full_name == "Asha Rao"
        assert debtor.timezone == "Asia/Kolkata"
    with workspace_context(world.b):
        # The same kind of local number means a US number in a US workspace.
        assert _fresh(_debtor(world.b, phone="(415) 555-2671")).phone == "+14155552671"


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"email": "asha@"}, {"email"}),
        ({"phone": "12"}, {"phone"}),
        ({"phone": "call me"}, {"phone"}),
        ({"date_of_birth": "tomorrow"}, {"date_of_birth"}),
        ({"full_name": "   "}, {"full_name"}),
        (
            {"full_name": "", "email": "x@", "phone": "1", "date_of_birth": "tomorrow"},
            {"full_name", "email", "phone", "date_of_birth"},
        ),
    ],
)
def test_debtor_create_names_each_bad_field_and_saves_nothing(world, data, fields):
    if data.get("date_of_birth") == "tomorrow":
        data = {**data, "date_of_birth": timezone.localdate() + timedelta(days=1)}
    with workspace_context(world.a):
        with pytest.raises(ValidationError) as exc:
            _debtor(world.a, **data)
        assert set(exc.value.message_dict) == fields
        assert not Debtor.objects.for_workspace(world.a).exists()


@pytest.mark.parametrize(
    ("born", "minor"), [(date(2008, 6, 16), True), (date(2008, 6, 15), False), (date(1990, 1, 1), False)]
)
def test_a_person_under_18_on_entry_is_flagged(world, born, minor):
    with workspace_context(world.a):
        debtor = debtor_create(
            workspace=world.a, data=DebtorInput(full_name="Ravi", date_of_birth=born), today=date(2026, 6, 15)
        )
        assert _fresh(debtor).is_minor is minor
        business = debtor_create(
            workspace=world.a,
            data=DebtorInput(full_name="Ravi Traders", date_of_birth=born, kind="business"),
            today=date(2026, 6, 15),
        )
        assert _fresh(business).is_minor is False


def test_a_minors_debt_is_held_until_a_reviewer_confirms_an_adult(world):
    born = timezone.localdate() - timedelta(days=17 * 365)
    with workspace_context(world.a):
        debtor = _debtor(world.a, date_of_birth=born)
        debt = _debt(world.a, debtor=debtor)
        assert _fresh(debt).status == S.ON_HOLD
        assert "status" in _event_kinds(debt)
        with pytest.raises(ValidationError) as exc:
            debt_change_status(debt=debt, status=S.ACTIVE)
        assert "status" in exc.value.message_dict
        debtor_review_minor(debtor=debtor, actor=world.alice, confirmed_adult=False)
        with pytest.raises(ValidationError):
            debt_change_status(debt=debt, status=S.ACTIVE)
        assert _fresh(debt).status == S.ON_HOLD

        debtor_review_minor(debtor=debtor, actor=world.alice, confirmed_adult=True)
        assert _fresh(debtor).minor_reviewed_at is not None
        debt_change_status(debt=debt, status=S.ACTIVE, actor=world.alice)
        assert _fresh(debt).status == S.ACTIVE


# --- Debts -------------------------------------------------------------------


def test_debt_create_opens_with_the_original_amount_as_balance(world):
    with workspace_context(world.a):
        debt = debt_create(
            workspace=world.a,
            client=_client(world.a),
            debtor=_debtor(world.a),
            data=DebtInput(reference=" LN-100 ", original_amount_minor=125_000, currency="inr"),
        )
        debt = _fresh(debt)
        assert (debt.reference, debt.currency, debt.balance_minor, debt.status) == ("LN-100", "INR", 125_000, S.NEW)
        entries = list(
            LedgerEntry.objects.for_workspace(world.a).filter(debt=debt).values_list("kind", "amount_minor", "currency")
        )
        assert entries == [(EntryKind.CHARGE, 125_000, "INR")]


def test_debt_reference_is_unique_per_client_only(world):
    with workspace_context(world.a):
        debtor = _debtor(world.a)
        first = debt_create(
            workspace=world.a, client=_client(world.a), debtor=debtor, data=DebtInput("LN-7", 1_000, "INR")
        )
        with pytest.raises(ValidationError) as exc:
            debt_create(workspace=world.a, client=_client(world.a), debtor=debtor, data=DebtInput("LN-7", 2_000, "INR"))
        assert set(exc.value.message_dict) == {"reference"}
        other = client_create(workspace=world.a, name="Konkan Finance", reference="KONKAN")
        second = debt_create(workspace=world.a, client=other, debtor=debtor, data=DebtInput("LN-7", 2_000, "INR"))
        assert second.pk != first.pk
        assert Debt.objects.for_workspace(world.a).filter(reference="LN-7").count() == 2
    with workspace_context(world.b):
        debt_create(
            workspace=world.b, client=_client(world.b), debtor=_debtor(world.b), data=DebtInput("LN-7", 500, "USD")
        )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (DebtInput("LN-1", 1_000, "XXX"), "currency"),
        (DebtInput("LN-1", 1_000, ""), "currency"),
        (DebtInput("LN-1", 0, "INR"), "original_amount"),
        (DebtInput("LN-1", -5, "INR"), "original_amount"),
        (DebtInput("   ", 1_000, "INR"), "reference"),
        (DebtInput("L" * 65, 1_000, "INR"), "reference"),
    ],
)
def test_debt_create_refuses_bad_input_by_field(world, data, field):
    with workspace_context(world.a):
        with pytest.raises(ValidationError) as exc:
            debt_create(workspace=world.a, client=_client(world.a), debtor=_debtor(world.a), data=data)
        assert field in exc.value.message_dict
        assert not Debt.objects.for_workspace(world.a).exists()


def test_debt_create_refuses_another_workspaces_client_or_debtor(world):
    with workspace_context(world.b):
        b_client, b_debtor = _client(world.b), _debtor(world.b)
    with workspace_context(world.a):
        with pytest.raises(ValidationError) as exc:
            debt_create(workspace=world.a, client=b_client, debtor=b_debtor, data=DebtInput("LN-X", 1_000, "INR"))
        assert {"client", "debtor"} <= set(exc.value.message_dict)


TRANSITIONS = [(old, new) for old in S.values for new in S.values if old != new]


@pytest.mark.parametrize(("start", "target"), TRANSITIONS, ids=[f"{o}->{n}" for o, n in TRANSITIONS])
def test_status_changes_only_along_allowed_transitions(world, start, target):
    with workspace_context(world.a):
        debt = _debt(world.a)
        Debt.objects.for_workspace(world.a).filter(pk=debt.pk).update(status=start)
        if target in ALLOWED_TRANSITIONS[start]:
            changed = debt_change_status(debt=debt, status=target, actor=world.alice, reason="agent decision")
            assert changed.status == target == _fresh(debt).status
            event = DebtEvent.objects.for_workspace(world.a).get(debt=debt, kind="status")
            assert f"{start} → {target}" in event.summary
        else:
            with pytest.raises(ValidationError) as exc:
                debt_change_status(debt=debt, status=target)
            assert "status" in exc.value.message_dict
            assert _fresh(debt).status == start
            assert not DebtEvent.objects.for_workspace(world.a).filter(debt=debt, kind="status").exists()


def test_an_unknown_status_is_refused(world):
    with workspace_context(world.a):
        debt = _debt(world.a)
        with pytest.raises(ValidationError):
            debt_change_status(debt=debt, status="vanished")
        assert _fresh(debt).status == S.NEW


# --- Payment plans -------------------------------------------------------------


def test_plan_schedule_puts_the_remainder_on_the_last_installment_and_clamps_month_ends():
    schedule = plan_schedule(total_minor=100_001, count=4, frequency="monthly", first_due=date(2025, 1, 31))
    assert schedule == [
        (date(2025, 1, 31), 25_000),
        (date(2025, 2, 28), 25_000),
        (date(2025, 3, 31), 25_000),
        (date(2025, 4, 30), 25_001),
    ]
    leap = plan_schedule(total_minor=3, count=3, frequency="monthly", first_due=date(2024, 1, 31))
    assert [d for d, _ in leap] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    weekly = plan_schedule(total_minor=1_000, count=3, frequency="weekly", first_due=date(2025, 12, 29))
    assert weekly == [(date(2025, 12, 29), 333), (date(2026, 1, 5), 333), (date(2026, 1, 12), 334)]


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10**12),
    count=st.integers(min_value=1, max_value=120),
    frequency=st.sampled_from(["weekly", "biweekly", "monthly"]),
    first_due=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
)
def test_plan_schedule_always_sums_to_the_total(total, count, frequency, first_due):
    if total < count:
        with pytest.raises(ValidationError):
            plan_schedule(total_minor=total, count=count, frequency=frequency, first_due=first_due)
        return
    schedule = plan_schedule(total_minor=total, count=count, frequency=frequency, first_due=first_due)
    amounts = [a for _, a in schedule]
    dates = [d for d, _ in schedule]
    assert len(schedule) == count and sum(amounts) == total
    assert set(amounts[:-1]) <= {total // count} and amounts[-1] == total // count + total % count
    assert dates[0] == first_due and dates == sorted(set(dates))
    if frequency == "monthly":
        assert all(d.day <= first_due.day for d in dates) and all(
            d.day == first_due.day for d in dates if first_due.day <= 28
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"count": 0}, "installments"),
        ({"count": 121}, "installments"),
        ({"frequency": "daily"}, "frequency"),
        ({"total_minor": 0}, "total"),
        ({"total_minor": 2, "count": 3}, "installments"),
    ],
)
def test_plan_schedule_refuses_bad_terms(kwargs, field):
    terms = {"total_minor": 1_000, "count": 3, "frequency": "monthly", "first_due": date(2026, 1, 1), **kwargs}
    with pytest.raises(ValidationError) as exc:
        plan_schedule(**terms)
    assert field in exc.value.message_dict


def _installments(plan: PaymentPlan) -> list[tuple[int, str]]:
    qs = Installment.objects.for_workspace(plan.workspace_id).filter(plan=plan).order_by("seq")
    return list(qs.values_list("paid_minor", "status"))


def test_a_plan_takes_payments_oldest_installment_first_until_complete(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        plan = plan_create(
            debt=debt, total_minor=300_000, count=3, frequency="monthly", first_due=today, actor=world.alice
        )
        assert _fresh(debt).status == S.PAYMENT_PLAN
        assert [i.amount_minor for i in Installment.objects.for_workspace(world.a).filter(plan=plan)] == [100_000] * 3

        payment_record(debt=debt, amount_minor=150_000)
        assert _installments(plan) == [(100_000, "paid"), (50_000, "pending"), (0, "pending")]
        payment_record(debt=debt, amount_minor=150_000)
        assert _installments(plan) == [(100_000, "paid")] * 3
        assert _fresh(plan).status == PlanStatus.COMPLETED
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (0, S.PAID)
        assert "plan_completed" in _event_kinds(debt)


def test_a_plan_for_part_of_the_balance_returns_the_debt_to_active_when_done(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 500_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=300_000, count=3, frequency="weekly", first_due=today)
        payment_record(debt=debt, amount_minor=300_000)
        assert _fresh(plan).status == PlanStatus.COMPLETED
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (200_000, S.ACTIVE)


def test_a_reversed_payment_is_owed_to_the_plan_again(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=300_000, count=3, frequency="monthly", first_due=today)
        payment_record(debt=debt, amount_minor=150_000)
        bounced, _ = payment_record(debt=debt, amount_minor=50_000)
        assert _installments(plan) == [(100_000, "paid"), (100_000, "paid"), (0, "pending")]

        entry_reverse(entry=bounced, memo="cheque bounced", actor=world.alice)
        assert _installments(plan) == [(100_000, "paid"), (50_000, "pending"), (0, "pending")]
        assert _fresh(plan).status == PlanStatus.ACTIVE
        assert "plan_payment_reversed" in _event_kinds(debt)


def test_reversing_the_payment_that_completed_a_plan_puts_the_debt_back_on_it(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 200_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=200_000, count=2, frequency="weekly", first_due=today)
        payment_record(debt=debt, amount_minor=100_000)
        last, _ = payment_record(debt=debt, amount_minor=100_000)
        assert (_fresh(plan).status, _fresh(debt).status) == (PlanStatus.COMPLETED, S.PAID)

        entry_reverse(entry=last, memo="chargeback")
        assert _installments(plan) == [(100_000, "paid"), (0, "pending")]
        assert _fresh(plan).status == PlanStatus.ACTIVE
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (100_000, S.PAYMENT_PLAN)
        assert "plan_reopened" in _event_kinds(debt)


def test_reversing_a_payment_made_before_the_plan_leaves_the_plan_alone(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        early, _ = payment_record(debt=debt, amount_minor=100_000)
        plan = plan_create(debt=debt, total_minor=200_000, count=2, frequency="weekly", first_due=today)
        payment_record(debt=debt, amount_minor=100_000)

        entry_reverse(entry=early, memo="posted in error")
        assert _installments(plan) == [(100_000, "paid"), (0, "pending")]
        assert (_fresh(debt).balance_minor, _fresh(debt).status) == (200_000, S.PAYMENT_PLAN)


def test_reversing_a_payment_made_after_the_plan_was_done_leaves_the_plan_alone(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=200_000, count=2, frequency="weekly", first_due=today)
        payment_record(debt=debt, amount_minor=200_000)
        assert _fresh(plan).status == PlanStatus.COMPLETED
        later, _ = payment_record(debt=debt, amount_minor=50_000)

        entry_reverse(entry=later, memo="bounced")
        assert _installments(plan) == [(100_000, "paid"), (100_000, "paid")]
        assert _fresh(plan).status == PlanStatus.COMPLETED
        assert (_fresh(debt).balance_minor, _fresh(debt).status) == (100_000, S.ACTIVE)


def test_reversing_an_overpayment_takes_back_only_what_went_to_the_plan(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 400_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=200_000, count=2, frequency="weekly", first_due=today)
        payment_record(debt=debt, amount_minor=100_000)
        over, _ = payment_record(debt=debt, amount_minor=150_000)  # 100,000 to the plan, 50,000 beyond it

        entry_reverse(entry=over, memo="chargeback")
        assert _installments(plan) == [(100_000, "paid"), (0, "pending")]  # the first payment still counts
        assert _fresh(plan).status == PlanStatus.ACTIVE
        assert _fresh(debt).status == S.PAYMENT_PLAN


def test_a_reversal_after_a_new_plan_breaks_the_old_plan_instead_of_reopening_it(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 400_000, status=S.ACTIVE)
        first = plan_create(debt=debt, total_minor=100_000, count=1, frequency="weekly", first_due=today)
        paid, _ = payment_record(debt=debt, amount_minor=100_000)
        second = plan_create(debt=debt, total_minor=200_000, count=2, frequency="weekly", first_due=today)

        entry_reverse(entry=paid, memo="bounced")
        assert (_fresh(first).status, _fresh(second).status) == (PlanStatus.BROKEN, PlanStatus.ACTIVE)
        assert _installments(first) == [(0, "pending")]
        assert PaymentPlan.objects.filter(debt=debt, status=PlanStatus.ACTIVE).count() == 1


def test_a_payment_allocated_before_shares_were_recorded_is_still_taken_back(world):
    from debtors.models import InstallmentAllocation

    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=300_000, count=3, frequency="monthly", first_due=today)
        old, _ = payment_record(debt=debt, amount_minor=150_000)
    InstallmentAllocation.unscoped.all().delete()  # as it was before this version
    with workspace_context(world.a):
        entry_reverse(entry=old, memo="bounced")
        assert _installments(plan) == [(0, "pending")] * 3  # newest installment first, the whole payment


def test_plan_create_refuses_past_dates_excess_and_a_second_plan(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 100_000, status=S.ACTIVE)
        with pytest.raises(ValidationError) as exc:
            plan_create(
                debt=debt, total_minor=90_000, count=3, frequency="monthly", first_due=today - timedelta(days=1)
            )
        assert "first_due" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            plan_create(debt=debt, total_minor=100_001, count=3, frequency="monthly", first_due=today)
        assert "total" in exc.value.message_dict
        plan_create(debt=debt, total_minor=90_000, count=3, frequency="monthly", first_due=today)
        with pytest.raises(ValidationError) as exc:
            plan_create(debt=debt, total_minor=90_000, count=3, frequency="monthly", first_due=today)
        assert "plan" in exc.value.message_dict
        assert PaymentPlan.objects.for_workspace(world.a).filter(debt=debt).count() == 1


def test_a_missed_installment_breaks_the_plan_once(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 300_000, status=S.ACTIVE)
        plan = plan_create(debt=debt, total_minor=300_000, count=3, frequency="monthly", first_due=today)
        payment_record(debt=debt, amount_minor=40_000)
        assert installments_mark_missed(workspace_id=world.a.pk, today=today) == 0  # due today: not missed yet
        assert installments_mark_missed(workspace_id=world.a.pk, today=today + timedelta(days=2), grace_days=3) == 0

        assert installments_mark_missed(workspace_id=world.a.pk, today=today + timedelta(days=1)) == 1
        assert _installments(plan) == [(40_000, "missed"), (0, "pending"), (0, "pending")]
        assert _fresh(plan).status == PlanStatus.BROKEN
        assert _fresh(debt).status == S.ACTIVE
        missed = DebtEvent.objects.for_workspace(world.a).get(debt=debt, kind="installment_missed")
        assert missed.amount_minor == 60_000  # what was still owed on it
        events = DebtEvent.objects.for_workspace(world.a).filter(debt=debt).count()

        # Running again (the daily task, a retry) changes nothing more.
        assert installments_mark_missed(workspace_id=world.a.pk, today=today + timedelta(days=1)) == 0
        assert installments_mark_missed(workspace_id=world.a.pk, today=today + timedelta(days=90)) == 0
        assert _installments(plan) == [(40_000, "missed"), (0, "pending"), (0, "pending")]
        assert DebtEvent.objects.for_workspace(world.a).filter(debt=debt).count() == events
        assert _fresh(debt).status == S.ACTIVE


# --- Promises to pay -------------------------------------------------------------


def test_a_promise_paid_in_time_is_kept_and_collection_resumes(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        promise = promise_create(debt=debt, amount_minor=4_000, due_on=today + timedelta(days=3), actor=world.alice)
        assert _fresh(debt).status == S.PROMISE
        payment_record(debt=debt, amount_minor=1_500)
        assert (_fresh(promise).status, _fresh(debt).status) == (PromiseStatus.PENDING, S.PROMISE)
        payment_record(debt=debt, amount_minor=2_500)
        assert _fresh(promise).status == PromiseStatus.KEPT
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (6_000, S.ACTIVE)
        assert "promise_kept" in _event_kinds(debt)


def test_a_promise_paid_in_full_leaves_the_debt_paid(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        promise = promise_create(debt=debt, amount_minor=10_000, due_on=timezone.localdate())
        payment_record(debt=debt, amount_minor=10_000)
        assert (_fresh(promise).status, _fresh(debt).status) == (PromiseStatus.KEPT, S.PAID)


def test_an_unpaid_promise_is_broken_after_its_date(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        promise = promise_create(debt=debt, amount_minor=4_000, due_on=today)
        payment_record(debt=debt, amount_minor=1_000)
        assert promises_evaluate(workspace_id=world.a.pk, today=today) == {"kept": 0, "broken": 0}
        assert _fresh(promise).status == PromiseStatus.PENDING

        assert promises_evaluate(workspace_id=world.a.pk, today=today + timedelta(days=1)) == {"kept": 0, "broken": 1}
        assert _fresh(promise).status == PromiseStatus.BROKEN
        assert _fresh(promise).evaluated_at is not None
        assert _fresh(debt).status == S.ACTIVE
        assert _event_kinds(debt)[:2] == ["status", "promise_broken"]
        assert promises_evaluate(workspace_id=world.a.pk, today=today + timedelta(days=5)) == {"kept": 0, "broken": 0}


def test_promise_create_refuses_bad_promises_and_replaces_a_pending_one(world):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        for amount, due, field in (
            (0, today, "amount"),
            (10_001, today, "amount"),
            (1_000, today - timedelta(days=1), "due_on"),
        ):
            with pytest.raises(ValidationError) as exc:
                promise_create(debt=debt, amount_minor=amount, due_on=due)
            assert field in exc.value.message_dict
        first = promise_create(debt=debt, amount_minor=1_000, due_on=today)
        second = promise_create(debt=debt, amount_minor=2_000, due_on=today + timedelta(days=7))
        assert (_fresh(first).status, _fresh(second).status) == (PromiseStatus.CANCELLED, PromiseStatus.PENDING)


# --- Settlement offers -------------------------------------------------------------


def test_a_settlement_is_settled_only_once_its_amount_is_paid(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        offer = offer_create(
            debt=debt, amount_minor=6_000, expires_at=timezone.now() + timedelta(days=7), actor=world.alice
        )
        assert offer.discount_bps == 4_000
        with pytest.raises(ValidationError) as exc:
            offer_settle(offer=offer)
        assert "offer" in exc.value.message_dict
        payment_record(debt=debt, amount_minor=5_999)
        with pytest.raises(ValidationError):
            offer_settle(offer=offer)
        assert _fresh(debt).balance_minor == 4_001

        payment_record(debt=debt, amount_minor=1)
        offer_settle(offer=offer, actor=world.alice)
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (0, S.SETTLED)
        assert _fresh(offer).status == OfferStatus.ACCEPTED
        written_off = LedgerEntry.objects.for_workspace(world.a).get(debt=debt, kind=EntryKind.ADJUSTMENT)
        assert (written_off.amount_minor, written_off.memo) == (-4_000, "Settlement discount")


def test_offer_discount_is_rounded_basis_points_and_bad_offers_are_refused(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 3, status=S.ACTIVE)
        assert (
            offer_create(debt=debt, amount_minor=1, expires_at=timezone.now() + timedelta(days=1)).discount_bps == 6_667
        )
        for amount in (0, 3, 4):
            with pytest.raises(ValidationError) as exc:
                offer_create(debt=debt, amount_minor=amount, expires_at=timezone.now() + timedelta(days=1))
            assert "amount" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            offer_create(debt=debt, amount_minor=2, expires_at=timezone.now() - timedelta(seconds=1))
        assert "expires_at" in exc.value.message_dict


def test_offers_expire_closes_only_past_offers(world):
    with workspace_context(world.a):
        old = offer_create(
            debt=_debt(world.a, status=S.ACTIVE), amount_minor=5_000, expires_at=timezone.now() + timedelta(days=1)
        )
        current = offer_create(
            debt=_debt(world.a, status=S.ACTIVE), amount_minor=5_000, expires_at=timezone.now() + timedelta(days=1)
        )
        SettlementOffer.objects.for_workspace(world.a).filter(pk=old.pk).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        assert offers_expire(workspace_id=world.a.pk) == 1
        assert (_fresh(old).status, _fresh(current).status) == (OfferStatus.EXPIRED, OfferStatus.OPEN)
        assert offers_expire(workspace_id=world.a.pk) == 0
        payment_record(debt=old.debt, amount_minor=5_000)
        with pytest.raises(ValidationError):
            offer_settle(offer=_fresh(old))
        assert _fresh(old.debt).status == S.ACTIVE


# --- Disputes ---------------------------------------------------------------------


def test_an_open_dispute_stops_collection_until_resolved(world):
    with workspace_context(world.a):
        debt = _debt(world.a, status=S.ACTIVE)
        dispute = dispute_open(debt=debt, reason="wrong_amount", details="I paid 2,000 in March", source="debtor")
        assert _fresh(debt).status == S.DISPUTED
        with pytest.raises(ValidationError) as exc:
            dispute_open(debt=debt, reason="not_mine")
        assert "debt" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            debt_change_status(debt=debt, status=S.ACTIVE)
        assert "status" in exc.value.message_dict
        assert _fresh(debt).status == S.DISPUTED

        dispute_resolve(
            dispute=dispute, upheld=False, resolution="Statement from creditor verifies the amount", actor=world.alice
        )
        assert _fresh(dispute).status == DisputeStatus.REJECTED
        assert _fresh(debt).status == S.ACTIVE
        with pytest.raises(ValidationError) as exc:
            dispute_resolve(dispute=dispute, upheld=True, resolution="again")
        assert "dispute" in exc.value.message_dict


@pytest.mark.parametrize("before", [S.NEW, S.ACTIVE, S.PROMISE, S.PAYMENT_PLAN])
def test_a_rejected_dispute_resumes_collection(world, before):
    today = timezone.localdate()
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=None if before == S.NEW else S.ACTIVE)
        if before == S.PROMISE:
            promise_create(debt=debt, amount_minor=1_000, due_on=today)
        elif before == S.PAYMENT_PLAN:
            plan_create(debt=debt, total_minor=9_000, count=3, frequency="monthly", first_due=today)
        assert _fresh(debt).status == before
        dispute = dispute_open(debt=debt, reason="paid")
        dispute_resolve(dispute=dispute, upheld=False, resolution="No payment found")
        # Back where it was when the table allows it, otherwise active: never stuck.
        expected = before if before in ALLOWED_TRANSITIONS[S.DISPUTED] else S.ACTIVE
        assert _fresh(debt).status == expected


def test_an_upheld_dispute_closes_the_debt(world):
    with workspace_context(world.a):
        debt = _debt(world.a, status=S.ACTIVE)
        dispute = dispute_open(debt=debt, reason="identity_theft")
        dispute_resolve(dispute=dispute, upheld=True, resolution="Police report provided")
        assert _fresh(debt).status == S.CLOSED
        assert _fresh(dispute).status == DisputeStatus.UPHELD
        with pytest.raises(ValidationError):
            payment_record(debt=debt, amount_minor=100)


def test_dispute_input_is_checked(world):
    with workspace_context(world.a):
        debt = _debt(world.a, status=S.ACTIVE)
        with pytest.raises(ValidationError) as exc:
            dispute_open(debt=debt, reason="dont_feel_like_it")
        assert "reason" in exc.value.message_dict
        dispute = dispute_open(debt=debt, reason="other")
        with pytest.raises(ValidationError) as exc:
            dispute_resolve(dispute=dispute, upheld=False, resolution="  ")
        assert "resolution" in exc.value.message_dict
        assert _fresh(debt).status == S.DISPUTED


# --- Notes, communications, documents ----------------------------------------------------


def test_notes_are_encrypted_at_rest_and_read_back(world):
    body = "Debtor says salary arrives on the 5th; call after 6pm"
    with workspace_context(world.a):
        debt = _debt(world.a)
        note = note_add(debt=debt, body=f"  {body}  ", actor=world.alice)
        raw = _raw_column("debtors_note", "body", note.pk)
        assert raw.startswith("enc:v1:")
        assert "salary" not in raw and body not in raw
        assert _fresh(note).body == body
        # The timeline says a note was added, not what it says.
        assert all("salary" not in e.summary for e in timeline_for_debt(debt=debt))
        for bad in ("", "   ", "x" * 10_001):
            with pytest.raises(ValidationError) as exc:
                note_add(debt=debt, body=bad)
            assert "body" in exc.value.message_dict
        assert Note.objects.for_workspace(world.a).filter(debt=debt).count() == 1


def test_communication_log_records_the_contact_time(world):
    with workspace_context(world.a):
        debt = _debt(world.a)
        assert _fresh(debt).last_contact_at is None
        with pytest.raises(ValidationError) as exc:
            communication_log(debt=debt, channel="pigeon")
        assert "channel" in exc.value.message_dict
        assert _fresh(debt).last_contact_at is None

        # An inbound call (the debtor rang us) needs no contact-rule clearance.
        before = timezone.now()
        comm = communication_log(
            debt=debt, channel="call", direction="inbound", outcome="promised to pay", content="Spoke to debtor"
        )
        assert before <= _fresh(debt).last_contact_at <= timezone.now()
        assert "communication.call" in _event_kinds(debt)
        assert _fresh(comm).content == "Spoke to debtor"
        assert "Spoke" not in _raw_column("debtors_communication", "content", comm.pk)
        assert Communication.objects.for_workspace(world.a).filter(debt=debt).count() == 1


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1 greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
PNG = _png()
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode."
)


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("content", "name", "mime", "ext"),
    [(PDF, "statement.pdf", "application/pdf", "pdf"), (PNG, "photo.pdf", "image/png", "png")],
)
def test_document_upload_stores_pdfs_and_images_by_their_content(world, private_storage, content, name, mime, ext):
    with workspace_context(world.a):
        debt = _debt(world.a)
        doc = document_upload(debt=debt, upload=BytesIO(content), file_name=name, actor=world.alice)
        doc = _fresh(doc)
        assert (doc.content_type, doc.size_bytes, doc.sha256) == (
            mime,
            len(content),
            hashlib.sha256(content).hexdigest(),
        )
        assert doc.original_name == name
        # Stored under a random name with the sniffed extension, never the uploaded name.
        assert doc.storage_name.endswith(f".{ext}") and name.split(".")[0] not in doc.storage_name
        # Stored encrypted under the debtor's data key; read back decrypted.
        with default_storage.open(doc.storage_name) as fh:
            assert content not in fh.read()
        assert records_module.document_content(doc) == content
        assert len(_stored_files(private_storage)) == 1
        assert "document" in _event_kinds(debt)


@pytest.mark.parametrize(
    "content",
    [EXE, b"Hello, this is plain text pretending to be a PDF\n", b"<html><script>alert(1)</script></html>", b""],
    ids=["exe", "text", "html", "empty"],
)
def test_document_upload_refuses_other_files_whatever_their_name(world, private_storage, content):
    with workspace_context(world.a):
        debt = _debt(world.a)
        with pytest.raises(ValidationError) as exc:
            document_upload(debt=debt, upload=BytesIO(content), file_name="invoice.pdf")
        assert "file" in exc.value.message_dict
        assert not Document.objects.for_workspace(world.a).exists()
    assert _stored_files(private_storage) == []


@pytest.mark.parametrize(("limit", "size"), [(1_024, 4_000), (10_000, 20_000)])  # within the first read / after it
def test_document_upload_refuses_files_over_the_limit(world, private_storage, monkeypatch, limit, size):
    monkeypatch.setattr(records_module, "MAX_DOCUMENT_BYTES", limit)
    with workspace_context(world.a):
        debt = _debt(world.a)
        big = PDF + b"%" * (size - len(PDF))
        with pytest.raises(ValidationError) as exc:
            document_upload(debt=debt, upload=BytesIO(big), file_name="big.pdf")
        assert "file" in exc.value.message_dict
        assert not Document.objects.for_workspace(world.a).exists()
        assert _stored_files(private_storage) == []
        # Exactly at the limit is fine.
        document_upload(debt=debt, upload=BytesIO(PDF + b"%" * (limit - len(PDF))), file_name="ok.pdf")
        assert len(_stored_files(private_storage)) == 1


def test_document_upload_removes_the_file_when_the_row_cannot_be_saved(world, private_storage, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(records_module, "debt_event", broken)
    with workspace_context(world.a):
        debt = _debt(world.a)
        with pytest.raises(RuntimeError):
            document_upload(debt=debt, upload=BytesIO(PDF), file_name="statement.pdf")
        assert not Document.objects.for_workspace(world.a).exists()
    assert _stored_files(private_storage) == []


# --- Timeline and balance ------------------------------------------------------------


def test_the_timeline_lists_what_happened_newest_first(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000)
        debt_change_status(debt=debt, status=S.ACTIVE, actor=world.alice)
        payment_record(debt=debt, amount_minor=2_500)
        note_add(debt=debt, body="Asked for a plan", actor=world.alice)
        events = list(timeline_for_debt(debt=debt))
        assert [e.kind for e in events] == ["note", "ledger.payment", "status", "ledger.charge"]
        assert [e.amount_minor for e in events] == [None, -2_500, None, 10_000]
        assert events[0].actor == world.alice
        assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)


def test_the_balance_breakdown_adds_up_to_the_balance(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=S.ACTIVE)
        fee_post(debt=debt, kind=EntryKind.FEE, amount_minor=500)
        fee_post(debt=debt, kind=EntryKind.INTEREST, amount_minor=250)
        payment_record(debt=debt, amount_minor=3_000)
        adjustment_post(debt=debt, amount_minor=-100, memo="goodwill")
        breakdown = balance_breakdown(debt=debt)
        assert breakdown == {
            "charge": 10_000,
            "interest": 250,
            "fee": 500,
            "payment": -3_000,
            "adjustment": -100,
            "refund": 0,
            "reversal": 0,
            "balance": 7_650,
        }
        assert _fresh(debt).balance_minor == 7_650


# --- Tenancy ----------------------------------------------------------------------------


def test_another_workspace_cannot_reach_a_debt_or_its_records(world):
    with workspace_context(world.a):
        debt = _debt(world.a)
        other_debt = _debt(world.a)
        note = note_add(debt=debt, body="private")
        assert debt_get(workspace=world.a, debt_id=debt.pk) == debt
        assert related_get(Note, debt=debt, object_id=note.pk) == note
        with pytest.raises(Http404):
            related_get(Note, debt=other_debt, object_id=note.pk)
        with pytest.raises(Http404):
            related_get(PromiseToPay, debt=debt, object_id=note.pk)
        konkan = client_create(workspace=world.a, name="Konkan Finance", reference="KONKAN")
        with pytest.raises(Http404):
            debt_get(workspace=world.a, debt_id=debt.pk, client_scope=konkan)
    with workspace_context(world.b):
        with pytest.raises(Http404):
            debt_get(workspace=world.b, debt_id=debt.pk)
        b_debt = _debt(world.b, currency="USD")
        with pytest.raises(Http404):
            related_get(Note, debt=b_debt, object_id=note.pk)
