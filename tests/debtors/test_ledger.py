"""The ledger: money in minor units, append-only entries, the balance as their sum."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Client
from debtors.models import Debt, DebtStatus, EntryKind, LedgerEntry
from debtors.selectors import balance_breakdown, timeline_for_debt
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.ledger import (
    adjustment_post,
    entry_post,
    entry_reverse,
    fee_post,
    payment_record,
    refund_post,
)
from debtors.services.money import MoneyError, from_minor, to_minor
from kernel.tenancy import workspace_context

_refs = itertools.count(1)


def _debt(workspace, amount: int = 10_000, *, currency: str = "INR", debtor=None, status: str | None = None) -> Debt:
    """A debt placed for the workspace's client (call inside workspace_context)."""
    client = Client.objects.for_workspace(workspace).order_by("created_at").first()
    if debtor is None:
        debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name="Asha Rao"))
    debt = debt_create(
        workspace=workspace,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=f"LN-{next(_refs)}", original_amount_minor=amount, currency=currency),
    )
    if status is not None:
        debt = debt_change_status(debt=debt, status=status)
    return debt


def _fresh(debt: Debt) -> Debt:
    return Debt.objects.for_workspace(debt.workspace_id).get(pk=debt.pk)


def _raw_ledger_sum(debt: Debt) -> int:
    """SUM(amount_minor) straight from the table, bypassing the ORM and the cache."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(amount_minor), 0) FROM debtors_ledgerentry WHERE debt_id = %s",
            [Debt._meta.pk.get_db_prep_value(debt.pk, connection)],
        )
        return int(cursor.fetchone()[0])


def _snapshot(debt: Debt) -> dict:
    rows = LedgerEntry.objects.for_workspace(debt.workspace_id).filter(debt=debt)
    return {
        r[0]: r[1:]
        for r in rows.values_list(
            "id", "amount_minor", "kind", "external_id", "reverses_id", "effective_on", "currency"
        )
    }


# --- Money -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(minor=st.integers(min_value=-(10**15), max_value=10**15), currency=st.sampled_from(["INR", "JPY", "KWD"]))
def test_money_round_trips_through_decimal_strings(minor, currency):
    text = from_minor(minor, currency)
    assert to_minor(text, currency) == minor
    assert to_minor(Decimal(text), currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1250.00", "INR", 125_000),
        ("1,250.5", "INR", 125_050),
        ("1250", "JPY", 1250),
        ("1.234", "KWD", 1234),
        (7, "INR", 700),
    ],
)
def test_to_minor_reads_decimal_strings(amount, currency, minor):
    assert to_minor(amount, currency) == minor
    assert (
        from_minor(minor, currency)
        == {"INR": f"{Decimal(minor) / 100:.2f}", "JPY": str(minor), "KWD": f"{Decimal(minor) / 1000:.3f}"}[currency]
    )


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (12.5, "INR"),
        (0.1, "JPY"),
        ("NaN", "INR"),
        (Decimal("NaN"), "INR"),
        ("Infinity", "INR"),
        ("1.001", "INR"),
        ("12.5", "JPY"),
        ("1.0001", "KWD"),
        ("abc", "INR"),
        ("", "INR"),
        ("10.00", "XYZ"),
    ],
)
def test_to_minor_refuses_floats_non_numbers_and_extra_decimals(amount, currency):
    with pytest.raises(MoneyError):
        to_minor(amount, currency)


# --- Property: random operations never break the books ------------------------

AMOUNT = st.integers(min_value=1, max_value=200_000)
OPERATION = st.one_of(
    st.tuples(st.just("pay"), AMOUNT, st.one_of(st.none(), st.sampled_from(["p1", "p2", "p3"]))),
    st.tuples(st.just("pay_rest"), st.one_of(st.none(), st.sampled_from(["p1", "p4"]))),
    st.tuples(st.just("charge"), st.sampled_from([EntryKind.FEE, EntryKind.INTEREST, EntryKind.CHARGE]), AMOUNT),
    st.tuples(st.just("adjust"), st.integers(min_value=-50_000, max_value=50_000).filter(bool)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=10_000)),
    st.tuples(st.just("refund"), AMOUNT, st.one_of(st.none(), st.sampled_from(["r1", "r2"]))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(original=st.integers(min_value=1, max_value=500_000), operations=st.lists(OPERATION, min_size=1, max_size=20))
def test_random_operations_keep_the_books_consistent(world, original, operations):
    tag = uuid.uuid4().hex[:10]  # provider ids unique to this example
    with workspace_context(world.a):
        debt = _debt(world.a, original)
        expected = original
        seen = _snapshot(debt)
        provider_entries: dict[str, tuple] = {}  # external id -> (entry id, amount posted)
        reversed_ids: set = set()

        for op in operations:
            paid_now = False
            if op[0] in ("pay", "pay_rest"):
                if op[0] == "pay":
                    amount, ext = op[1], op[2]
                else:
                    amount, ext = _fresh(debt).balance_minor, op[1]
                    if amount <= 0:
                        continue
                external_id = f"{tag}-pay-{ext}" if ext else None
                entry, created = payment_record(debt=debt, amount_minor=amount, external_id=external_id, method="upi")
                if external_id in provider_entries:
                    # The same provider payment reported again: posted once, the first entry returned.
                    assert not created and entry.pk == provider_entries[external_id][0]
                else:
                    assert created and entry.amount_minor == -amount
                    expected -= amount
                    paid_now = True
                    if external_id:
                        provider_entries[external_id] = (entry.pk, amount)
            elif op[0] == "charge":
                fee_post(debt=debt, kind=op[1], amount_minor=op[2], memo="property test")
                expected += op[2]
            elif op[0] == "adjust":
                adjustment_post(debt=debt, amount_minor=op[1], memo="property test")
                expected += op[1]
            elif op[0] == "refund":
                external_id = f"{tag}-ref-{op[2]}" if op[2] else None
                entry, created = refund_post(debt=debt, amount_minor=op[1], external_id=external_id)
                if external_id in provider_entries:
                    assert not created and entry.pk == provider_entries[external_id][0]
                else:
                    assert created
                    expected += op[1]
                    if external_id:
                        provider_entries[external_id] = (entry.pk, op[1])
            elif op[0] == "reverse":
                candidates = list(
                    LedgerEntry.objects.for_workspace(world.a)
                    .filter(debt=debt)
                    .exclude(kind=EntryKind.REVERSAL)
                    .order_by("posted_at", "id")
                )
                target = candidates[op[1] % len(candidates)]
                if target.pk in reversed_ids:
                    with pytest.raises(ValidationError) as exc:
                        entry_reverse(entry=target, memo="again")
                    assert "entry" in exc.value.message_dict
                else:
                    reversal = entry_reverse(entry=target, memo="property test")
                    assert reversal.amount_minor == -target.amount_minor and reversal.reverses_id == target.pk
                    reversed_ids.add(target.pk)
                    expected -= target.amount_minor

            debt = _fresh(debt)
            # The cached balance never drifts from the ledger, nor from the model above.
            assert debt.balance_minor == _raw_ledger_sum(debt) == expected
            # Append-only: every entry seen before is still there, unchanged.
            now = _snapshot(debt)
            assert {pk: now.get(pk) for pk in seen} == seen
            seen = now
            # Status follows the money.
            if paid_now and debt.balance_minor <= 0:
                assert debt.status == DebtStatus.PAID
            if debt.status == DebtStatus.PAID:
                assert debt.balance_minor <= 0, "a debt shown as paid still has money owing"

        entries = LedgerEntry.objects.for_workspace(world.a).filter(debt=debt)
        # Each reversed entry is reversed exactly once; reversals point at non-reversals.
        reversals = list(entries.filter(kind=EntryKind.REVERSAL).values_list("reverses_id", flat=True))
        assert sorted(map(str, reversals)) == sorted(map(str, reversed_ids))
        assert not entries.filter(pk__in=reversals, kind=EntryKind.REVERSAL).exists()
        # Each provider id appears on exactly one entry, with the amount first reported.
        for external_id, (entry_id, amount) in provider_entries.items():
            assert list(entries.filter(external_id=external_id).values_list("pk", flat=True)) == [entry_id]
            assert abs(entries.get(pk=entry_id).amount_minor) == amount
        # What the balance is made of adds up to it.
        breakdown = balance_breakdown(debt=debt)
        assert breakdown["balance"] == debt.balance_minor == sum(v for k, v in breakdown.items() if k != "balance")


# --- Status follows payments, reversals and refunds ---------------------------


def test_paying_the_balance_marks_the_debt_paid_and_reversing_reopens_it(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=DebtStatus.ACTIVE)
        _, created = payment_record(debt=debt, amount_minor=4_000)
        assert created and _fresh(debt).status == DebtStatus.ACTIVE
        final, _ = payment_record(debt=debt, amount_minor=6_000, external_id="pi_final")
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (0, DebtStatus.PAID)
        assert debt.last_payment_at is not None

        entry_reverse(entry=final, memo="chargeback")
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (6_000, DebtStatus.ACTIVE)
        kinds = [e.kind for e in timeline_for_debt(debt=debt)]
        assert kinds[:3] == ["status", "ledger.reversal", "status"]  # newest first: reopened, reversed, paid


def test_refund_after_full_payment_reopens_with_the_refunded_amount_owing(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=DebtStatus.ACTIVE)
        payment_record(debt=debt, amount_minor=12_000)  # overpaid by 20.00
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (-2_000, DebtStatus.PAID)
        refund_post(debt=debt, amount_minor=2_000, external_id="re_1")
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (0, DebtStatus.PAID)
        _, created = refund_post(debt=debt, amount_minor=2_000, external_id="re_1")  # webhook again
        assert not created
        refund_post(debt=debt, amount_minor=3_000)
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (3_000, DebtStatus.ACTIVE)
        assert debt.balance_minor == _raw_ledger_sum(debt)


@pytest.mark.parametrize("kind", [EntryKind.FEE, EntryKind.INTEREST])
def test_a_charge_on_a_paid_debt_reopens_it(world, kind):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=DebtStatus.ACTIVE)
        payment_record(debt=debt, amount_minor=10_000)
        fee_post(debt=debt, kind=kind, amount_minor=500, memo="late fee")
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (500, DebtStatus.ACTIVE)


def test_a_positive_adjustment_on_a_paid_debt_reopens_it(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=DebtStatus.ACTIVE)
        payment_record(debt=debt, amount_minor=10_000)
        adjustment_post(debt=debt, amount_minor=1_500, memo="creditor corrected the principal")
        debt = _fresh(debt)
        assert (debt.balance_minor, debt.status) == (1_500, DebtStatus.ACTIVE)


def test_a_provider_payment_posts_once_per_workspace(world):
    with workspace_context(world.a):
        debt_a = _debt(world.a, 10_000)
        first, created = payment_record(debt=debt_a, amount_minor=1_000, external_id="pi_123")
        again, created_again = payment_record(debt=debt_a, amount_minor=1_000, external_id="pi_123")
        assert created and not created_again and again.pk == first.pk
        assert _fresh(debt_a).balance_minor == 9_000
        assert LedgerEntry.objects.for_workspace(world.a).filter(external_id="pi_123").count() == 1
    with workspace_context(world.b):
        debt_b = _debt(world.b, 5_000, currency="USD")
        # Another tenant's provider may reuse the id: it is theirs, not a duplicate.
        _, created_b = payment_record(debt=debt_b, amount_minor=1_000, external_id="pi_123")
        assert created_b and _fresh(debt_b).balance_minor == 4_000


# --- Refusals: nothing is posted ---------------------------------------------


@pytest.mark.parametrize("status", [DebtStatus.CLOSED, DebtStatus.RECALLED])
def test_payments_on_a_closed_or_recalled_debt_are_refused(world, status):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000, status=DebtStatus.ACTIVE)
        debt = debt_change_status(debt=debt, status=status)
        with pytest.raises(ValidationError) as exc:
            payment_record(debt=debt, amount_minor=1_000, external_id="pi_late")
        assert "debt" in exc.value.message_dict
        assert _fresh(debt).balance_minor == 10_000
        assert not LedgerEntry.objects.for_workspace(world.a).filter(debt=debt, kind=EntryKind.PAYMENT).exists()


@pytest.mark.parametrize("amount", [0, -1, -5_000])
def test_zero_or_negative_payments_and_refunds_are_refused(world, amount):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000)
        with pytest.raises(ValidationError) as exc:
            payment_record(debt=debt, amount_minor=amount)
        assert "amount" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            refund_post(debt=debt, amount_minor=amount)
        assert "amount" in exc.value.message_dict
        assert _fresh(debt).balance_minor == 10_000
        assert LedgerEntry.objects.for_workspace(world.a).filter(debt=debt).count() == 1


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        (EntryKind.PAYMENT, 100),
        (EntryKind.FEE, -100),
        (EntryKind.INTEREST, -100),
        (EntryKind.CHARGE, -100),
        (EntryKind.REFUND, -100),
        (EntryKind.ADJUSTMENT, 0),
        (EntryKind.REVERSAL, 0),
    ],
)
def test_entries_with_the_wrong_sign_or_zero_are_refused(world, kind, amount):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000)
        with pytest.raises(ValidationError) as exc:
            entry_post(debt=debt, kind=kind, amount_minor=amount)
        assert "amount" in exc.value.message_dict
        assert _fresh(debt).balance_minor == 10_000


def test_fee_post_refuses_other_kinds_and_adjustments_need_a_reason(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000)
        with pytest.raises(ValidationError) as exc:
            fee_post(debt=debt, kind=EntryKind.PAYMENT, amount_minor=-100)
        assert "kind" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            fee_post(debt=debt, kind=EntryKind.FEE, amount_minor=-100)
        assert "amount" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            adjustment_post(debt=debt, amount_minor=-100, memo="  ")
        assert "memo" in exc.value.message_dict
        assert _fresh(debt).balance_minor == 10_000


def test_an_entry_is_reversed_at_most_once_and_reversals_are_final(world):
    with workspace_context(world.a):
        debt = _debt(world.a, 10_000)
        fee = fee_post(debt=debt, kind=EntryKind.FEE, amount_minor=700)
        reversal = entry_reverse(entry=fee, memo="fee waived")
        with pytest.raises(ValidationError) as exc:
            entry_reverse(entry=fee, memo="twice")
        assert "entry" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            entry_reverse(entry=reversal, memo="undo the undo")
        assert "entry" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            entry_reverse(entry=fee, memo="")
        assert _fresh(debt).balance_minor == 10_000 == _raw_ledger_sum(debt)
        assert LedgerEntry.objects.for_workspace(world.a).filter(reverses=fee).count() == 1
