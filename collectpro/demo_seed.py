"""Fill a demo workspace with a few thousand realistic accounts in several states,
so the queue, debt pages and dashboard look alive. Goes through the real services
(the placement import, payments, promises, plans, disputes, notes, calls)."""

from __future__ import annotations

import csv
import io
import random
import zoneinfo
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import Role
from collectpro.demo import demo_rows
from communications.log import communication_log
from consent.services import ContactRefused
from debtors.models import Debt, DebtEvent, LedgerEntry
from debtors.services.debts import debt_assign, debt_change_status
from debtors.services.disputes import dispute_open
from debtors.services.ledger import payment_record
from debtors.services.plans import plan_create
from debtors.services.promises import promise_create
from debtors.services.records import note_add
from kernel.tenancy import workspace_context
from placements.imports import placement_import_create, placement_import_execute

NOTES = [
    "Debtor asked for a call back after salary day.",
    "Spoke to spouse; debtor travelling until next week.",
    "Says the bank already settled part of this; asked for statement.",
    "Lost job in March, can pay small monthly amounts.",
    "Promised to pay after festival bonus.",
]


def _backdate(entry: LedgerEntry, when: datetime) -> None:
    """Demo only: place a payment in the past so the charts have history. The
    application role may not UPDATE the ledger under PostgreSQL RLS; then the
    payment simply stays dated today."""
    try:
        with transaction.atomic():  # a savepoint: a refused UPDATE must not abort the seeding
            LedgerEntry.unscoped.filter(pk=entry.pk).update(posted_at=when, effective_on=when.date())
            DebtEvent.unscoped.filter(object_id=str(entry.pk)).update(created_at=when)
    except DatabaseError:
        pass


def seed_portfolio(
    *,
    workspace: Workspace,
    client_refs: list[str],
    count: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> int:
    """Import ``count`` placements and give them history. Returns debts created
    (0 if the workspace already has debts: seeding is idempotent)."""
    with workspace_context(workspace):
        if Debt.objects.exists():
            return 0
    rows = list(demo_rows(jurisdiction=workspace.jurisdiction, client_refs=client_refs, count=count, seed=seed))
    buffer = io.StringIO()

    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    job = placement_import_create(
        workspace=workspace, file_obj=io.BytesIO(buffer.getvalue().encode()), file_name=f"demo-{workspace.slug}.csv"
    )
    job = placement_import_execute(workspace=workspace, import_id=job.pk)
    if progress:
        progress(f"  imported {job.created_count} placements into {workspace.slug} ({job.rejected_count} rejected)")
    _give_history(workspace, seed)
    return job.created_count


def _give_history(workspace: Workspace, seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311  (deterministic demo data)
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    now = timezone.now()
    with workspace_context(workspace):
        agents = [
            m.user
            for m in Membership.objects.select_related("user").filter(
                role__in=[Role.AGENT, Role.MANAGER], client__isnull=True
            )
        ]
        debts = list(Debt.objects.select_related("debtor").order_by("pk"))
    for i, debt in enumerate(debts):
        with workspace_context(workspace):
            try:
                _one(debt, i, rng, agents, tz, now)
            except (ContactRefused, Exception):  # noqa: S112 — demo data: skip a state that does not apply
                continue


def _daytime(tz: Any, days_ago: int, rng: random.Random) -> datetime:
    day = (timezone.now().astimezone(tz) - timedelta(days=days_ago)).date()
    return datetime.combine(day, time(rng.randint(10, 17), rng.randint(0, 59)), tzinfo=tz)


def _one(debt: Debt, i: int, rng: random.Random, agents: list[Any], tz: Any, now: datetime) -> None:
    if debt.status == "on_hold":  # minors held for review stay as they are
        return
    if agents and i % 10 < 8:
        debt_assign(debt=debt, agent=agents[i % len(agents)])
    if i % 12 == 0:
        return  # a few stay new
    debt = debt_change_status(debt=debt, status="active")
    roll = i % 20
    if roll < 6:  # paid something, some of it in earlier months
        for _ in range(rng.randint(1, 3)):
            amount = max(100, debt.balance_minor // rng.randint(3, 8))
            if amount >= debt.balance_minor:
                break
            entry, _ = payment_record(
                debt=debt, amount_minor=amount, method=rng.choice(["upi", "bank_transfer", "card", "cash"])
            )
            _backdate(entry, _daytime(tz, rng.randint(0, 75), rng))
            debt.refresh_from_db()
    elif roll == 6:  # paid in full
        entry, _ = payment_record(debt=debt, amount_minor=debt.balance_minor, method="bank_transfer")
        _backdate(entry, _daytime(tz, rng.randint(0, 40), rng))
    elif roll in (7, 8):
        promise_create(
            debt=debt,
            amount_minor=max(100, debt.balance_minor // 4),
            due_on=(now + timedelta(days=rng.randint(2, 20))).date(),
        )
    elif roll == 9:
        plan_create(
            debt=debt,
            total_minor=debt.balance_minor,
            count=rng.choice([3, 6, 12]),
            frequency="monthly",
            first_due=(now + timedelta(days=10)).date(),
        )
    elif roll == 10:
        dispute_open(debt=debt, reason=rng.choice(["wrong_amount", "paid", "not_mine"]), details="Raised on a call.")
    if i % 3 == 0:
        communication_log(
            debt=debt,
            channel="call",
            outcome=rng.choice(["no_answer", "right_party", "left_message"]),
            at=_daytime(tz, rng.randint(8, 30), rng),
        )
    if i % 5 == 0:
        note_add(debt=debt, body=rng.choice(NOTES))
