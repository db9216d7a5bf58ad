"""The books' end (``debtors.books``): a finished debt of an erased person whose books
are past FINANCIAL_RECORDS goes, with its ledger and everything on it, and only totals
per client, currency and financial year stay — totals that still add up to what the
ledger said before. Held debts, people not erased and young books stay."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from debtors.models import (
    Debt,
    DebtEvent,
    Debtor,
    DebtParty,
    DebtStatus,
    EntryKind,
    HoldReason,
    HoldScope,
    Installment,
    InstallmentAllocation,
    LedgerEntry,
    LegalHold,
    PaymentPlan,
    PromiseToPay,
    RetainedTotals,
    SettlementOffer,
)
from debtors.services.books import books_boundary, financial_year_end
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import debt_add_party, debt_change_status
from debtors.services.ledger import entry_reverse, fee_post, payment_record, refund_post
from debtors.services.offers import offer_create, offer_settle
from debtors.services.plans import plan_create
from debtors.services.promises import promise_create
from kernel.crypto import keyring
from kernel.retention import store_named
from kernel.tenancy import workspace_context
from kernel.tenancy.rls import prune_append_only
from reporting.queries import COLLECTION
from retention.engine import purge_estimate, purge_run
from retention.holds import legal_hold_lift, legal_hold_place
from tests.debtors.factories import make_debt
from tests.kernel.tenancy.test_rls import app_role, as_app  # noqa: F401  (fixture)

STORE = "debtors.books"
TEN_YEARS_AGO = datetime(2016, 5, 2, 10, 0, tzinfo=UTC)
TWO_YEARS_AGO = timezone.now() - timedelta(days=2 * 365)


# --- Building books ----------------------------------------------------------------------


def _paid_on_a_plan(ws: Any) -> Debt:
    """Paid in two payments on a plan (installments and allocations), with a guarantor."""
    debt = make_debt(ws, amount_minor=100_000)
    guarantor = debtor_create(workspace=ws, data=DebtorInput(full_name="Guarantor Person"))
    debt_add_party(debt=debt, debtor=guarantor, role="guarantor")
    plan_create(
        debt=debt, total_minor=100_000, count=2, frequency="monthly", first_due=timezone.localdate() + timedelta(7)
    )
    payment_record(debt=debt, amount_minor=60_000)
    payment_record(debt=debt, amount_minor=40_000)
    return Debt.objects.for_workspace(ws).get(pk=debt.pk)


def _settled(ws: Any) -> Debt:
    debt = make_debt(ws, amount_minor=100_000)
    offer = offer_create(debt=debt, amount_minor=40_000, expires_at=timezone.now() + timedelta(days=7))
    payment_record(debt=debt, amount_minor=40_000)
    offer_settle(offer=offer)
    return Debt.objects.for_workspace(ws).get(pk=debt.pk)


def _written_off(ws: Any) -> Debt:
    """A promise, a fee, a payment reversed, another payment, a refund; then written off."""
    debt = make_debt(ws, amount_minor=50_000)
    promise_create(debt=debt, amount_minor=5_000, due_on=timezone.localdate() + timedelta(3))
    debt = debt_change_status(debt=debt, status=DebtStatus.ACTIVE)
    fee_post(debt=debt, kind=EntryKind.FEE, amount_minor=1_000, memo="Late fee")
    bounced, _ = payment_record(debt=debt, amount_minor=10_000)
    entry_reverse(entry=bounced, memo="Cheque bounced")
    payment_record(debt=debt, amount_minor=5_000)
    refund_post(debt=debt, amount_minor=2_000, memo="Overpaid fee")
    return debt_change_status(debt=debt, status=DebtStatus.WRITTEN_OFF)


def _age(debts: list[Debt], when: datetime) -> None:
    """Move the debts' books back in time (outside the app role, as a test may)."""
    ids = [d.pk for d in debts]
    LedgerEntry.unscoped.filter(debt_id__in=ids).update(posted_at=when)
    Debt.unscoped.filter(pk__in=ids).update(created_at=when, updated_at=when)


def _erase(debt: Debt) -> None:
    assert keyring.subject_key_shred(debt.workspace_id, "debtor", str(debt.debtor_id))


def _snapshot(ws: Any) -> dict[tuple[Any, str], dict[str, int]]:
    """Per client and currency: the ledger's sum, the money collected and the entries,
    of the debts still kept plus the retained totals."""
    figures: dict[tuple[Any, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    entries = LedgerEntry.objects.for_workspace(ws)
    for client, currency, total in entries.values_list("debt__client_id", "currency").annotate(t=Sum("amount_minor")):
        figures[(client, currency)]["ledger"] += total
    for client, currency, total in (
        entries.filter(COLLECTION).values_list("debt__client_id", "currency").annotate(t=Sum("amount_minor"))
    ):
        figures[(client, currency)]["collected"] -= total
    for client, currency in entries.values_list("debt__client_id", "currency"):
        figures[(client, currency)]["entries"] += 1
    for t in RetainedTotals.objects.for_workspace(ws):
        figures[(t.client_id, t.currency)]["ledger"] += t.ledger_minor
        figures[(t.client_id, t.currency)]["collected"] += t.collected_minor
        figures[(t.client_id, t.currency)]["entries"] += t.entries
    return {k: dict(v) for k, v in figures.items()}


def _exists(ws: Any, debt: Debt) -> bool:
    with workspace_context(ws):
        return Debt.objects.for_workspace(ws).filter(pk=debt.pk).exists()


@pytest.fixture
def books(world) -> dict[str, Any]:
    """In Acme (India, books 8 years): three debts whose books are due, and four that
    stay for one reason each; in Globex, one debt that would be due there."""
    a, b = world.a, world.b
    with workspace_context(a):
        due = [_paid_on_a_plan(a), _settled(a), _written_off(a)]
        lifted = make_debt(a, status=DebtStatus.CLOSED)
        held = make_debt(a, status=DebtStatus.CLOSED)
        hold = legal_hold_place(
            workspace=a,
            scope=HoldScope.DEBT,
            reason=HoldReason.LITIGATION,
            review_on=timezone.localdate() + timedelta(30),
            debt=lifted,
        )
        legal_hold_lift(workspace=a, hold=hold, reason="Case closed")
        legal_hold_place(
            workspace=a,
            scope=HoldScope.DEBT,
            reason=HoldReason.LITIGATION,
            review_on=timezone.localdate() + timedelta(30),
            debt=held,
            case_reference="HC-2016-77",
        )
        not_erased = make_debt(a, status=DebtStatus.CLOSED)
        young = make_debt(a, status=DebtStatus.CLOSED)
        open_debt = make_debt(a, status=DebtStatus.ACTIVE)
    with workspace_context(b):
        other = make_debt(b, status=DebtStatus.CLOSED)
    due.append(lifted)
    _age([*due, held, not_erased, open_debt], TEN_YEARS_AGO)
    _age([young], TWO_YEARS_AGO)
    _age([other], TEN_YEARS_AGO)
    for debt in (*due, held, young, open_debt, other):
        _erase(debt)
    return {"due": due, "kept": [held, not_erased, young, open_debt], "other": other}


# --- The purge -----------------------------------------------------------------------------


def test_the_store_is_registered_for_the_books():
    store = store_named(STORE)
    assert store is not None
    assert store.category == "FINANCIAL_RECORDS" and store.action == "keep_aggregates"
    assert {"debtors.debt", "debtors.ledgerentry", "debtors.paymentplan"} <= set(store.models)


def test_purge_removes_exactly_the_due_books_and_the_totals_still_add_up(world, books):
    a = world.a
    due, kept = books["due"], books["kept"]
    with workspace_context(a):
        before = _snapshot(a)
        due_ids = [d.pk for d in due]
        guarantor = DebtParty.objects.for_workspace(a).get(debt_id=due[0].pk).debtor_id
        people = [d.debtor_id for d in due]
        kept_entries = LedgerEntry.objects.for_workspace(a).filter(debt_id__in=[d.pk for d in kept]).count()

    run = purge_run(workspace=a, category=STORE)

    assert run.status == "done", run.errors
    assert run.counts == {"FINANCIAL_RECORDS": {"keep_aggregates": 4}}
    with workspace_context(a):
        assert not Debt.objects.for_workspace(a).filter(pk__in=due_ids).exists()
        for model, link in (
            (LedgerEntry, "debt_id__in"),
            (PaymentPlan, "debt_id__in"),
            (PromiseToPay, "debt_id__in"),
            (SettlementOffer, "debt_id__in"),
            (DebtEvent, "debt_id__in"),
            (DebtParty, "debt_id__in"),
            (Installment, "plan__debt_id__in"),
        ):
            assert not model.objects.for_workspace(a).filter(**{link: due_ids}).exists(), model.__name__
        assert not InstallmentAllocation.objects.for_workspace(a).exists()
        assert not LegalHold.objects.for_workspace(a).filter(lifted_at__isnull=False).exists()
        # What stays: every kept debt with its whole ledger.
        assert all(_exists(a, d) for d in kept)
        assert LedgerEntry.objects.for_workspace(a).filter(debt_id__in=[d.pk for d in kept]).count() == kept_entries
        # The totals: unchanged per client and currency, ledger and money collected alike.
        assert _snapshot(a) == before
        totals = list(RetainedTotals.objects.for_workspace(a))
        assert sum(t.debts for t in totals) == 4
        assert sum(t.original_minor for t in totals) == 100_000 + 100_000 + 50_000 + 100_000
        assert {s: sum(t.statuses.get(s, 0) for t in totals) for s in ("paid", "settled", "written_off", "closed")} == {
            "paid": 1,
            "settled": 1,
            "written_off": 1,
            "closed": 1,
        }
        assert sum(t.written_off_minor for t in totals) == due[2].balance_minor > 0
        assert sum(t.collected_minor for t in totals) == 100_000 + 40_000 + 5_000 - 2_000
        assert sum(t.plans for t in totals) == sum(t.promises for t in totals) == sum(t.offers for t in totals) == 1
        assert sum(t.offers_accepted_minor for t in totals) == 40_000
        # India's financial year ends on 31 March: May 2016 is in the year to 31 March 2017.
        assert {t.year_end for t in totals} == {date(2017, 3, 31)}
        # The erased people with nothing left go; the guarantor, never erased, stays.
        assert not Debtor.objects.for_workspace(a).filter(pk__in=people).exists()
        assert Debtor.objects.for_workspace(a).filter(pk=guarantor).exists()
    # The other workspace's books are its own run's business.
    assert _exists(world.b, books["other"])

    again = purge_run(workspace=a, category=STORE)
    assert again.total == 0
    with workspace_context(a):
        assert _snapshot(a) == before


def test_a_dry_run_lists_the_books_and_changes_nothing(world, books):
    a = world.a
    with workspace_context(a):
        before = _snapshot(a)
    run = purge_run(workspace=a, category=STORE, dry_run=True)
    listing = run.progress[STORE]["listing"]
    assert len(listing) == 4 and run.total == 4
    assert all(line.startswith("debt ") and "ledger entries, last 2016-05-02" in line for line in listing)
    assert "Debtor" not in " ".join(listing)
    assert all(_exists(a, d) for d in books["due"])
    with workspace_context(a):
        assert _snapshot(a) == before
        assert not RetainedTotals.objects.for_workspace(a).exists()


def test_the_other_workspace_purges_its_own_books(world, books):
    run = purge_run(workspace=world.b, category=STORE)
    assert run.total == 1
    assert not _exists(world.b, books["other"])
    assert all(_exists(world.a, d) for d in books["due"])
    with workspace_context(world.b):
        (totals,) = RetainedTotals.objects.for_workspace(world.b)
    assert totals.currency == world.b.currency and totals.year_end == date(2016, 12, 31)


# --- When the books' period ends ------------------------------------------------------------


def test_the_financial_year_ends_per_jurisdiction(world):
    assert financial_year_end(workspace=world.a, day=date(2016, 5, 2)) == date(2017, 3, 31)
    assert financial_year_end(workspace=world.a, day=date(2017, 3, 31)) == date(2017, 3, 31)
    assert financial_year_end(workspace=world.b, day=date(2016, 5, 2)) == date(2016, 12, 31)
    # Books whose year ended before the cutoff are due: the next year starts after it.
    cutoff = datetime(2025, 5, 1, tzinfo=UTC)
    assert books_boundary(workspace=world.a, cutoff=cutoff).date() == date(2025, 4, 1)
    assert books_boundary(workspace=world.a, cutoff=datetime(2025, 3, 1, tzinfo=UTC)).date() == date(2024, 4, 1)
    assert books_boundary(workspace=world.b, cutoff=cutoff).date() == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("which", "before", "after"),
    [
        # India: the year to 31 March 2017, kept 8 × 365 days → due from 30 March 2025.
        ("a", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 15, tzinfo=UTC)),
        # The US: the year to 31 December 2016, kept 7 × 365 days → due from 31 December 2023.
        ("b", datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 15, tzinfo=UTC)),
    ],
)
def test_books_fall_due_when_their_financial_year_has_been_kept_long_enough(world, which, before, after):
    ws = getattr(world, which)
    with workspace_context(ws):
        debt = make_debt(ws, status=DebtStatus.CLOSED)
    _age([debt], TEN_YEARS_AGO)
    _erase(debt)
    assert purge_estimate(workspace=ws, category=STORE, now=before) == {STORE: 0}
    assert purge_estimate(workspace=ws, category=STORE, now=after) == {STORE: 1}
    assert purge_run(workspace=ws, category=STORE, now=before).total == 0
    assert _exists(ws, debt)
    assert purge_run(workspace=ws, category=STORE, now=after).total == 1
    assert not _exists(ws, debt)


def test_a_hold_on_the_person_the_portfolio_or_a_co_debtor_keeps_the_books(world):
    a = world.a
    with workspace_context(a):
        by_person, by_portfolio, by_party = (make_debt(a, status=DebtStatus.CLOSED) for _ in range(3))
        party = debtor_create(workspace=a, data=DebtorInput(full_name="Co Debtor"))
        debt_add_party(debt=by_party, debtor=party, role="co_debtor")
        review = timezone.localdate() + timedelta(30)
        legal_hold_place(
            workspace=a, scope=HoldScope.DEBTOR, reason=HoldReason.INSOLVENCY, review_on=review, debtor=by_person.debtor
        )
        legal_hold_place(
            workspace=a, scope=HoldScope.DEBTOR, reason=HoldReason.LITIGATION, review_on=review, debtor=party
        )
    _age([by_person, by_portfolio, by_party], TEN_YEARS_AGO)
    for debt in (by_person, by_portfolio, by_party):
        _erase(debt)
    assert purge_estimate(workspace=a, category=STORE) == {STORE: 1}
    with workspace_context(a):
        legal_hold_place(
            workspace=a,
            scope=HoldScope.PORTFOLIO,
            reason=HoldReason.REGULATOR,
            review_on=review,
            client=by_portfolio.client,
        )
    assert purge_run(workspace=a, category=STORE).total == 0
    assert all(_exists(a, d) for d in (by_person, by_portfolio, by_party))


# --- The database's own wall (PostgreSQL, as the application role) ------------------------


@pytest.mark.postgres
def test_the_app_role_cannot_delete_the_ledger_and_the_prune_keeps_young_or_held_books(world, app_role):  # noqa: F811
    a = world.a
    with workspace_context(a):
        young = make_debt(a, status=DebtStatus.CLOSED)
        held = make_debt(a, status=DebtStatus.CLOSED)
        old = make_debt(a, status=DebtStatus.CLOSED)
        legal_hold_place(
            workspace=a,
            scope=HoldScope.DEBT,
            reason=HoldReason.AUDIT,
            review_on=timezone.localdate() + timedelta(30),
            debt=held,
        )
    _age([held, old], TEN_YEARS_AGO)
    entry = {d: LedgerEntry.unscoped.get(debt_id=d.pk).pk for d in (young, held, old)}

    with pytest.raises(DatabaseError, match="permission denied"), as_app(app_role, a.pk) as cursor:
        cursor.execute("DELETE FROM debtors_ledgerentry WHERE id = %s", [entry[old]])
    with as_app(app_role, a.pk) as cursor:
        # Younger than the floor (5 years), or of a held debt: the function refuses.
        cursor.execute("SELECT collectpro_prune_debtors_ledgerentry(%s)", [[str(entry[young]), str(entry[held])]])
        assert cursor.fetchone()[0] == 0
        # Another workspace's old entry is out of reach too.
    with as_app(app_role, world.b.pk) as cursor:
        cursor.execute("SELECT collectpro_prune_debtors_ledgerentry(%s)", [[str(entry[old])]])
        assert cursor.fetchone()[0] == 0
    assert LedgerEntry.unscoped.filter(pk__in=entry.values()).count() == 3
    # The same call for the old, finished, unheld debt's entry is allowed.
    with as_app(app_role, a.pk) as cursor:
        cursor.execute("DELETE FROM debtors_installmentallocation WHERE entry_id = %s", [entry[old]])
        cursor.execute("SELECT collectpro_prune_debtors_ledgerentry(%s)", [[str(entry[old])]])
        assert cursor.fetchone()[0] == 1


def test_prune_append_only_refuses_entries_younger_than_the_floor(world):
    a = world.a
    with workspace_context(a):
        debt = make_debt(a, status=DebtStatus.CLOSED)
        ids = list(LedgerEntry.objects.for_workspace(a).filter(debt=debt).values_list("pk", flat=True))
        with transaction.atomic():
            assert prune_append_only(LedgerEntry, ids) == 0
        assert LedgerEntry.objects.for_workspace(a).filter(debt=debt).count() == len(ids)


def test_purge_runs_under_row_level_security(world, books, settings):
    """CI runs the suite with TENANCY_DB_ROLE: the purge above then ran as the app role.
    Here the point is explicit: the ledger went through the prune function only."""
    if connection.vendor != "postgresql" or not settings.TENANCY_DB_ROLE:
        pytest.skip("needs PostgreSQL with TENANCY_DB_ROLE")
    run = purge_run(workspace=world.a, category=STORE)
    assert run.status == "done", run.errors
    assert run.total == 4
