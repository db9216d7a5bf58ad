"""The priority score: the rule, its SQL twin, and where it shows (the queue)."""

from __future__ import annotations

import io
import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from debtors.models import Debt, DebtStatus
from debtors.services.priority import priorities_refresh, score
from kernel.tenancy import workspace_context
from placements.imports import placement_import_create, placement_import_execute
from tests.conftest import login
from tests.debtors.factories import make_debt

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("UTC"))
TODAY = NOW.date()


def _score(**overrides) -> int:
    facts = {
        "status": DebtStatus.NEW,
        "balance_minor": 500_000,  # 5,000.00 INR
        "currency": "INR",
        "due_date": TODAY - timedelta(days=45),
        "last_contact_at": None,
        "today": TODAY,
        "now": NOW,
    }
    return score(**{**facts, **overrides})


def test_a_fresh_mid_sized_delinquent_account_scores_high():
    # 5,000 INR → 250; 45 days late → 300; never contacted → 200; new → 100.
    assert _score() == 850


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"balance_minor": 9_999}, 650),  # under 100 INR → 50
        ({"balance_minor": 50_000_000}, 1000),  # 500,000 INR → 400: the top score
        ({"balance_minor": 500, "currency": "JPY"}, 750),  # ¥500 (no minor units) → 150
        ({"due_date": TODAY - timedelta(days=30)}, 800),  # 30 days late → 250
        ({"due_date": TODAY - timedelta(days=31)}, 850),
        ({"due_date": TODAY - timedelta(days=400)}, 625),  # over a year → 75
        ({"due_date": TODAY}, 600),  # due today: not yet late → 50
        ({"due_date": None}, 650),  # no due date → 100
        ({"last_contact_at": NOW - timedelta(days=2)}, 650),  # worked 2 days ago → 0
        ({"last_contact_at": NOW - timedelta(days=10)}, 725),
        ({"last_contact_at": NOW - timedelta(days=20)}, 800),
        ({"status": DebtStatus.ACTIVE}, 800),
        ({"status": DebtStatus.PROMISE}, 750),
        ({"status": DebtStatus.DISPUTED}, 0),  # not being collected
        ({"status": DebtStatus.PAID}, 0),
        ({"balance_minor": 0, "status": DebtStatus.ACTIVE}, 0),  # owes nothing
    ],
)
def test_each_part_of_the_rule(overrides, expected):
    assert _score(**overrides) == expected


def test_the_sql_rule_scores_every_debt_as_the_python_rule_does(world):
    """One debt per combination of bands; ``priorities_refresh`` (set-based SQL)
    must give each the score ``score`` (Python) gives it."""
    balances = [(5_000, "INR"), (150_000, "INR"), (2_500_000, "INR"), (99_999, "JPY"), (100_000, "JPY")]
    dues = [None, 0, -1, 1, 30, 31, 90, 91, 180, 181, 365, 366]  # days past due (negative: not yet due)
    contacts = [None, timedelta(days=3), timedelta(days=3, seconds=1), timedelta(days=14), timedelta(days=15)]
    statuses = [DebtStatus.NEW, DebtStatus.ACTIVE, DebtStatus.PAYMENT_PLAN, DebtStatus.ON_HOLD]
    cases = list(itertools.product(balances, dues, contacts, statuses))[::7]  # a spread of 137 combinations
    expected = {}
    with workspace_context(world.a):
        for (amount, currency), late, contact, status in cases:
            debt = make_debt(world.a, amount_minor=amount)
            due = None if late is None else TODAY - timedelta(days=late)
            last = None if contact is None else NOW - contact
            Debt.objects.filter(pk=debt.pk).update(
                due_date=due,
                last_contact_at=last,
                status=status,
                currency=currency,
                balance_minor=amount,
                priority_score=-1,
            )
            expected[debt.pk] = score(
                status=status,
                balance_minor=amount,
                currency=currency,
                due_date=due,
                last_contact_at=last,
                today=TODAY,
                now=NOW,
            )
        changed = priorities_refresh(workspace_id=world.a.pk, at=NOW)
        got = dict(Debt.objects.filter(pk__in=expected).values_list("pk", "priority_score"))
        again = priorities_refresh(workspace_id=world.a.pk, at=NOW)
    assert got == expected
    assert changed >= len(cases) and again == 0  # only changed rows are written
    assert len(set(expected.values())) > 10  # the grid really spans the rule


@pytest.mark.django_db(transaction=True)
def test_refreshing_in_batches_scores_every_debt_once(world):
    from debtors.services.priority import priorities_refresh_in_batches

    with workspace_context(world.a):
        debts = [make_debt(world.a, amount_minor=10_000 * (i + 1)) for i in range(7)]
        Debt.objects.update(priority_score=-1)
    assert priorities_refresh_in_batches(workspace=world.a, batch=3, at=NOW) == 7
    assert priorities_refresh_in_batches(workspace=world.a, batch=3, at=NOW) == 0
    with workspace_context(world.a):
        assert not Debt.objects.filter(pk__in=[d.pk for d in debts], priority_score=-1).exists()


def test_debts_are_scored_when_created_and_the_queue_puts_the_best_first(world, private_storage):
    today = timezone.localdate()
    rows = [
        # small, long overdue
        f"C-1,Small Old,,,,,,LN-1,50.00,INR,{today - timedelta(days=500):%Y-%m-%d},SAHYADRI",
        # large, newly delinquent: first
        f"C-2,Large Fresh,,,,,,LN-2,80000.00,INR,{today - timedelta(days=40):%Y-%m-%d},SAHYADRI",
        # mid-sized, not due yet
        f"C-3,Mid Future,,,,,,LN-3,5000.00,INR,{today + timedelta(days=20):%Y-%m-%d},SAHYADRI",
    ]
    header = "external_ref,full_name,email,phone,address,date_of_birth,national_id,debt_reference,amount,currency,due_date,client_ref"
    content = ("\n".join([header, *rows]) + "\n").encode()

    job = placement_import_create(workspace=world.a, file_obj=io.BytesIO(content), file_name="p.csv")
    assert placement_import_execute(workspace=world.a, import_id=job.pk).created_count == 3
    with workspace_context(world.a):
        scores = dict(Debt.objects.values_list("reference", "priority_score"))
        api_debt = make_debt(world.a, amount_minor=100, due_date=date(2020, 1, 1), status="new")
    assert scores == {"LN-2": 325 + 300 + 200 + 100, "LN-3": 250 + 50 + 200 + 100, "LN-1": 50 + 75 + 200 + 100}
    with workspace_context(world.a):
        assert Debt.objects.get(pk=api_debt.pk).priority_score == 50 + 75 + 200 + 100  # created by the service

    page = login(world.alice).get("/w/acme/debts/").content.decode()
    positions = [page.index(ref) for ref in ("LN-2", "LN-3", "LN-1")]
    assert positions == sorted(positions)


def test_a_payment_a_status_change_or_a_contact_reorders_the_queue_at_once(world):
    from communications.log import communication_log
    from debtors.services.debts import debt_change_status
    from debtors.services.ledger import payment_record

    def current(debt) -> int:
        return Debt.objects.get(pk=debt.pk).priority_score

    with workspace_context(world.a):
        debt = make_debt(world.a, amount_minor=2_000_000, due_date=timezone.localdate() - timedelta(days=45))
        assert current(debt) == 325 + 300 + 200 + 50  # 20,000 INR, 45 days late, never contacted, active
        payment_record(debt=debt, amount_minor=1_950_000)  # 500 INR left
        assert current(debt) == 150 + 300 + 200 + 50
        communication_log(debt=debt, channel="letter", content="Statement posted")
        assert current(debt) == 150 + 300 + 0 + 50  # someone is on it
        debt_change_status(debt=Debt.objects.get(pk=debt.pk), status=DebtStatus.ON_HOLD)
        assert current(debt) == 0
