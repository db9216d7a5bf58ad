"""The communications app's retention store (communications/retention.py): the log of a
debt that is over goes COLLECTION_RECORDS after its last collection activity; an open
debt's, a recent debt's and a held debt's stay."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Client, Workspace
from communications.log import communication_log
from communications.models import Communication
from debtors.models import Debt, HoldReason, HoldScope
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from kernel.tenancy import workspace_context
from retention.engine import purge_run
from retention.holds import legal_hold_place
from retention.models import PurgeRun, RunStatus
from tests.conftest import World

COLLECTION = 3 * 365  # COLLECTION_RECORDS


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def purge(workspace: Workspace | None, store: str, now: datetime, *, dry_run: bool = False) -> PurgeRun:
    run = purge_run(workspace=workspace, category=store, now=now, dry_run=dry_run)
    assert run.status == RunStatus.DONE, run.errors
    return run


def _debt(
    workspace: Workspace, reference: str, *, status: str, activity_days: int, message_days: list[int], now: datetime
) -> Debt:
    """A debt with its messages logged ``message_days`` ago, then its status and last
    activity set (logging a contact moves the debt's last contact)."""
    with workspace_context(workspace):
        client = Client.objects.for_workspace(workspace).first()
        assert client is not None
        debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name=f"Person {reference}"))
        debt = debt_create(
            workspace=workspace,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=reference, original_amount_minor=10_000, currency=workspace.currency),
        )
        for days in message_days:
            comm = communication_log(
                debt=debt, channel="call", direction="inbound", content=f"Called back about {reference}"
            )
            Communication.objects.filter(pk=comm.pk).update(occurred_at=now - timedelta(days=days))
        when = now - timedelta(days=activity_days)
        Debt.objects.filter(pk=debt.pk).update(status=status, created_at=when, updated_at=when, last_contact_at=when)
        debt.refresh_from_db()
    return debt


def _seed(workspace: Workspace, now: datetime) -> None:
    old = COLLECTION + 150
    _debt(workspace, "OVER-1", status="paid", activity_days=COLLECTION + 100, message_days=[old, old, 3], now=now)
    _debt(workspace, "RECENT-1", status="settled", activity_days=COLLECTION - 100, message_days=[old], now=now)
    _debt(workspace, "OPEN-1", status="promise", activity_days=COLLECTION + 100, message_days=[old], now=now)
    held = _debt(workspace, "HELD-1", status="written_off", activity_days=COLLECTION + 100, message_days=[old], now=now)
    with workspace_context(workspace):
        legal_hold_place(
            workspace=workspace,
            scope=HoldScope.DEBTOR,
            reason=HoldReason.INSOLVENCY,
            review_on=timezone.localdate() + timedelta(days=30),
            debtor=held.debtor,
        )


def _log(workspace: Workspace) -> dict[str, int]:
    with workspace_context(workspace):
        refs = list(Communication.objects.values_list("debt__reference", flat=True))
    return {ref: refs.count(ref) for ref in set(refs)}


def test_the_log_of_a_debt_that_is_over_goes_with_its_collection_records(world: World, now: datetime) -> None:
    _seed(world.a, now)
    _seed(world.b, now)
    everything = {"OVER-1": 3, "RECENT-1": 1, "OPEN-1": 1, "HELD-1": 1}

    dry = purge(world.a, "communications.closed_debts", now, dry_run=True)
    assert dry.counts == {"COLLECTION_RECORDS": {"delete": 2}} and _log(world.a) == everything
    listing = dry.progress["communications.closed_debts"]["listing"]
    assert len(listing) == 2 and all("OVER-1" in line and "Called" not in line for line in listing)

    run = purge(world.a, "communications.closed_debts", now)

    assert run.counts == {"COLLECTION_RECORDS": {"delete": 2}}
    # The recent row (a notice sent three days ago) stays until its own date is past the period.
    assert _log(world.a) == {**everything, "OVER-1": 1}
    assert _log(world.b) == everything
    assert purge(world.a, "communications.closed_debts", now).counts == {}
    assert purge(world.b, "communications.closed_debts", now).counts == {"COLLECTION_RECORDS": {"delete": 2}}
