"""Retention stores over real tables, registered by the engine's tests (not by the apps).

- ``test.notes``: a debt's notes, deleted (``COLLECTION_RECORDS``), atomic;
- ``test.timeline``: the debt's timeline lines, pseudonymised one row per transaction
  (``TEST_TIMELINE``, 90 days), not atomic: idempotent within a run, as the engine
  requires of such stores;
- ``test.signins``: django-axes' sign-in log, deleted (``SECURITY_LOGS``), global.

Both workspace stores leave out what a legal hold covers. ``RETENTION_TEST_DELAY``
(seconds, from the environment) slows each batch down so a worker can be killed in
the middle of one: inside the engine's transaction for the atomic store, between two
rows for the other. The worker subprocess of ``test_purge_worker.py`` registers the
same stores (``tests/retention/purge_worker_app.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from axes.models import AccessLog
from django.utils import timezone

import kernel.retention as registry
from accounts.models import Client, Workspace
from accounts.services import client_create
from debtors.models import Debt, DebtEvent, HoldReason, HoldScope, LegalHold, Note
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from debtors.services.holds import debts_unheld
from debtors.services.records import note_add
from kernel.privacy.registry import COLLECTION_RECORDS, SECURITY_LOGS, Retention
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, register_store
from kernel.tenancy import workspace_context
from retention.holds import legal_hold_place

TEST_TIMELINE = Retention(90, "the event", "the engine's tests", name="TEST_TIMELINE")
REMOVED = "[removed by retention]"


def _pause() -> None:
    delay = float(os.environ.get("RETENTION_TEST_DELAY", "") or 0)
    if delay:
        time.sleep(delay)


def _unheld_debts(workspace: Any) -> Any:
    return debts_unheld(workspace=workspace, debts=Debt.objects.for_workspace(workspace)).values("pk")


def notes_due(ctx: PurgeContext) -> Any:
    return Note.objects.for_workspace(ctx.workspace).filter(
        created_at__lt=ctx.cutoff, debt_id__in=_unheld_debts(ctx.workspace)
    )


def notes_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = Note.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()
    _pause()  # deleted, not yet committed: a kill here must lose the whole batch
    return int(per_model.get(Note._meta.label, 0))


def notes_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = Note.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"note {pk} of {ref}, written {when:%Y-%m-%d}"
        for pk, ref, when in rows.values_list("pk", "debt__reference", "created_at")
    ]


def timeline_due(ctx: PurgeContext) -> Any:
    return (
        DebtEvent.objects.for_workspace(ctx.workspace)
        .filter(created_at__lt=ctx.cutoff, debt_id__in=_unheld_debts(ctx.workspace))
        .exclude(summary=REMOVED)
    )


def timeline_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    """One short transaction per row; applied again to the same keys it changes only
    what is left and counts every key it has pseudonymised."""
    for key in keys:
        with workspace_context(ctx.workspace):
            DebtEvent.objects.for_workspace(ctx.workspace).filter(pk=key).exclude(summary=REMOVED).update(
                summary=REMOVED, object_id=""
            )
        _pause()
    with workspace_context(ctx.workspace):
        return DebtEvent.objects.for_workspace(ctx.workspace).filter(pk__in=keys, summary=REMOVED).count()


def signins_due(ctx: PurgeContext) -> Any:
    return AccessLog.objects.filter(attempt_time__lt=ctx.cutoff)


def signins_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(AccessLog.objects.filter(pk__in=keys).delete()[0])


NOTES = RetentionStore(
    name="test.notes",
    rule=COLLECTION_RECORDS,
    label="Notes (test)",
    covers="what agents wrote about the person",
    action=Action.DELETE,
    due=notes_due,
    apply=notes_apply,
    describe=notes_describe,
    order=20,
)
TIMELINE = RetentionStore(
    name="test.timeline",
    rule=TEST_TIMELINE,
    label="Timeline (test)",
    covers="what happened on the debt",
    action=Action.PSEUDONYMISE,
    due=timeline_due,
    apply=timeline_apply,
    atomic=False,
    order=10,
)
SIGNINS = RetentionStore(
    name="test.signins",
    rule=SECURITY_LOGS,
    label="Sign-in log (test)",
    covers="every sign-in",
    action=Action.DELETE,
    due=signins_due,
    apply=signins_apply,
    scope=Scope.GLOBAL,
)
ALL = (NOTES, TIMELINE, SIGNINS)


def install(*chosen: RetentionStore) -> None:
    """Make ``chosen`` the only registered stores (the apps' own stores are left out,
    so the tests count exactly what they seeded)."""
    registry._stores.clear()
    for store in chosen:
        register_store(store)


@contextmanager
def only_stores(*chosen: RetentionStore) -> Iterator[None]:
    saved = dict(registry._stores)
    install(*chosen)
    try:
        yield
    finally:
        registry._stores.clear()
        registry._stores.update(saved)


# --- Seeding: debts whose notes and timeline are past, short of, or held past their period.

NOTE_DAYS_OLD, NOTE_DAYS_YOUNG = 1200, 1000  # COLLECTION_RECORDS: 1095 days
EVENT_DAYS_OLD, EVENT_DAYS_YOUNG = 200, 30  # TEST_TIMELINE: 90 days


@dataclass
class Seeded:
    old: list[Debt]  # past both periods, not held
    young: list[Debt]  # short of both periods
    held: list[Debt]  # past both periods, under a legal hold (one on the debt, one on the person)


def _client(workspace: Workspace) -> Client:
    client = Client.objects.for_workspace(workspace).order_by("created_at").first()
    return client or client_create(workspace=workspace, name="Seed Bank", reference="SEED")


def _debt(workspace: Workspace, client: Client, reference: str, notes: int) -> Debt:
    debtor = debtor_create(
        workspace=workspace,
        data=DebtorInput(full_name=f"Person {reference}", email=f"{reference.lower()}@example.com"),
    )
    debt = debt_create(
        workspace=workspace,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=reference, original_amount_minor=50_000, currency=workspace.currency),
    )
    for n in range(notes):
        note_add(debt=debt, body=f"Called {reference}, note {n}")
    return debt


def _age(workspace: Workspace, debt: Debt, *, now: datetime, note_days: int, event_days: int, minute: int) -> None:
    """Backdate the debt's notes and timeline (every row of one kind gets the same time)."""
    offset = timedelta(minutes=minute)
    Note.objects.for_workspace(workspace).filter(debt=debt).update(created_at=now - timedelta(days=note_days) - offset)
    DebtEvent.objects.for_workspace(workspace).filter(debt=debt).update(
        created_at=now - timedelta(days=event_days) - offset
    )


def hold_place(workspace: Workspace, debt: Debt, *, on_person: bool) -> LegalHold:
    """A litigation hold on the debt, or on the person (and so all their debts)."""
    return legal_hold_place(
        workspace=workspace,
        scope=HoldScope.DEBTOR if on_person else HoldScope.DEBT,
        reason=HoldReason.LITIGATION,
        review_on=timezone.localdate() + timedelta(days=365),
        case_reference="HC-2026-114",
        debt=None if on_person else debt,
        debtor=debt.debtor if on_person else None,
    )


def seed(workspace: Workspace, *, now: datetime, old: int = 4, young: int = 2, held: int = 2, notes: int = 2) -> Seeded:
    """Debts ``K-000``… with ``notes`` notes each, their notes and timeline backdated
    relative to ``now``; the same call in two workspaces gives the same contents."""
    made = Seeded([], [], [])
    with workspace_context(workspace):
        client = _client(workspace)
        for i in range(old + young + held):
            debt = _debt(workspace, client, f"K-{i:03d}", notes)
            (made.old if i < old else made.young if i < old + young else made.held).append(debt)
        for i, debt in enumerate(made.held):
            hold_place(workspace, debt, on_person=i % 2 == 1)
        for i, debt in enumerate(made.old + made.young + made.held):
            young_one = debt in made.young
            _age(
                workspace,
                debt,
                now=now,
                note_days=NOTE_DAYS_YOUNG if young_one else NOTE_DAYS_OLD,
                event_days=EVENT_DAYS_YOUNG if young_one else EVENT_DAYS_OLD,
                minute=i,
            )
    return made


def signin_add(*, username: str, days_ago: int, now: datetime) -> AccessLog:
    """A sign-in as django-axes logs it (a third-party table), dated ``days_ago``."""
    row = AccessLog.objects.create(
        username=username, ip_address="203.0.113.9", user_agent="pytest", http_accept="*/*", path_info="/login/"
    )
    AccessLog.objects.filter(pk=row.pk).update(attempt_time=now - timedelta(days=days_ago))
    return row


# --- Reading back what a run left.


def notes_of(ws: Any, debts: list[Debt]) -> int:
    with workspace_context(ws):
        return Note.objects.for_workspace(ws).filter(debt__in=debts).count()


def events_of(ws: Any, debts: list[Debt], *, removed: bool | None = None) -> int:
    with workspace_context(ws):
        qs = DebtEvent.objects.for_workspace(ws).filter(debt__in=debts)
        if removed is not None:
            qs = qs.filter(summary=REMOVED) if removed else qs.exclude(summary=REMOVED)
        return qs.count()


def snapshot(ws: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with workspace_context(ws):
        notes = sorted(Note.objects.for_workspace(ws).values_list("pk", "body", "created_at"))
        events = sorted(DebtEvent.objects.for_workspace(ws).values_list("pk", "summary", "object_id", "created_at"))
    return notes, events


def balances(ws: Any) -> list[tuple[str, int]]:
    with workspace_context(ws):
        return sorted(Debt.objects.for_workspace(ws).values_list("reference", "balance_minor"))
