"""People whose collection records age, for the retention tests: built through the
services, then aged by moving their dates back (no frozen clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Client, Workspace
from debtors.models import Debt, Debtor
from debtors.services.debtors import DebtorInput, debtor_create, debtor_erased_at
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.ledger import payment_record
from kernel.tenancy import workspace_context
from retention.engine import purge_run
from retention.models import PurgeRun, RunTrigger
from tests.debtors.factories import make_debt

YEAR = timedelta(days=365)


def paid_person(workspace: Workspace, *, email: str | None = None, age: timedelta = 4 * YEAR) -> Debt:
    """Inside ``workspace_context``: a debtor whose one debt was paid in full, all of it
    ``age`` ago."""
    debt = make_debt(workspace, amount_minor=50_000, email=email)
    payment_record(debt=debt, amount_minor=50_000, method="upi", reference="UTR-PAID")
    age_person(workspace, debt.debtor_id, age=age)
    return Debt.objects.for_workspace(workspace).get(pk=debt.pk)


def written_off_person(workspace: Workspace, *, age: timedelta = 4 * YEAR) -> Debt:
    """A debtor whose debt was written off with 40,000 still owed, ``age`` ago."""
    debt = make_debt(workspace, amount_minor=50_000)
    payment_record(debt=debt, amount_minor=10_000, method="upi", reference="UTR-PART")
    debt_change_status(debt=debt, status="written_off")
    age_person(workspace, debt.debtor_id, age=age)
    return Debt.objects.for_workspace(workspace).get(pk=debt.pk)


def active_person(workspace: Workspace, *, age: timedelta = 4 * YEAR) -> Debt:
    """A debtor whose debt is still being collected (and nobody touched it for ``age``)."""
    debt = make_debt(workspace, amount_minor=70_000)
    age_person(workspace, debt.debtor_id, age=age)
    return Debt.objects.for_workspace(workspace).get(pk=debt.pk)


def person_without_contact(workspace: Workspace, *, age: timedelta = 4 * YEAR) -> Debt:
    client = workspace_client(workspace)
    debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name="Nilufar Contactless"))
    debt = debt_create(
        workspace=workspace,
        client=client,
        debtor=debtor,
        data=DebtInput(reference="NOCONTACT-1", original_amount_minor=20_000, currency=workspace.currency),
    )
    payment_record(debt=debt_change_status(debt=debt, status="active"), amount_minor=20_000, method="cash")
    age_person(workspace, debtor.pk, age=age)
    return Debt.objects.for_workspace(workspace).get(pk=debt.pk)


def workspace_client(workspace: Workspace) -> Client:
    client = Client.objects.for_workspace(workspace).order_by("created_at").first()
    assert client is not None
    return client


def age_person(workspace: Workspace, debtor_id: Any, *, age: timedelta) -> None:
    """Every date collection activity is counted from, ``age`` ago."""
    past = timezone.now() - age
    Debt.objects.for_workspace(workspace).filter(debtor_id=debtor_id).update(
        created_at=past, updated_at=past, last_payment_at=past, last_contact_at=None
    )
    Debtor.objects.for_workspace(workspace).filter(pk=debtor_id).update(created_at=past)


def erased(workspace: Workspace, debtor_id: Any) -> bool:
    with workspace_context(workspace):
        return debtor_erased_at(workspace_id=workspace.pk, debtor_id=debtor_id) is not None


def purge(workspace: Workspace, *, now: datetime | None = None, dry_run: bool = False, category: str = "") -> PurgeRun:
    return purge_run(
        workspace=workspace, now=now or timezone.now(), dry_run=dry_run, category=category, trigger=RunTrigger.MANUAL
    )


def people_counts(run: PurgeRun) -> dict[str, int]:
    """What the run did to people: notices and erasures."""
    per_action = run.counts.get("COLLECTION_RECORDS", {})
    return {k: int(v) for k, v in per_action.items() if k in ("notice", "erase_person")}
