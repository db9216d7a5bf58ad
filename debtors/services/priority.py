"""The priority score: which debts the work queue puts first (0–1000, higher first).

A transparent sum of four parts, each read from the debt's own columns, so the
whole workspace is scored by one set-based ``UPDATE`` per currency:

* **Amount (0–400)** — the balance in major units of the debt's currency:
  under 100 → 50, under 1,000 → 150, under 10,000 → 250, under 100,000 → 325,
  more → 400.
* **Age (0–300)** — days past the due date. Newly delinquent accounts are the
  most recoverable and recovery falls with age: 1–30 days → 250, 31–90 → 300,
  91–180 → 250, 181–365 → 150, over a year → 75; not yet due → 50; no due
  date → 100.
* **Contact (0–200)** — time since the last contact: never → 200, more than
  14 days → 150, 4–14 days → 75, 3 days or less → 0 (someone is on it).
* **Stage (0–100)** — `new` (never worked) → 100, `active` → 50; `promise`
  and `payment_plan` → 0: they are on track, and the upkeep returns them to
  `active` when a promise or an installment is missed.

A debt that is not being collected (disputed, on hold, paid, settled, written
off, recalled, closed) or owes nothing scores 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from debtors.models import NOT_COLLECTABLE, Debt, DebtStatus
from debtors.services.money import exponent
from kernel.tenancy import workspace_context

AMOUNT_BANDS = ((100, 50), (1_000, 150), (10_000, 250), (100_000, 325))  # (under major units, points)
AMOUNT_TOP = 400
# (at most this many days past due, points); beyond the last band: AGE_OLDEST.
AGE_BANDS = ((30, 250), (90, 300), (180, 250), (365, 150))
AGE_OLDEST, AGE_NOT_DUE, AGE_NO_DATE = 75, 50, 100
CONTACT_NEVER, CONTACT_STALE, CONTACT_RECENT, CONTACT_FRESH = 200, 150, 75, 0
STAGE: dict[str, int] = {DebtStatus.NEW: 100, DebtStatus.ACTIVE: 50}


def score(
    *,
    status: str,
    balance_minor: int,
    currency: str,
    due_date: date | None,
    last_contact_at: datetime | None,
    today: date,
    now: datetime,
) -> int:
    """The score of one debt, in Python: for debts being created (an import, the
    API), which are then in order at once. ``score_expression`` is the same rule
    in SQL (a test holds them equal)."""
    if status in NOT_COLLECTABLE or balance_minor <= 0:
        return 0
    scale = 10 ** exponent(currency)
    amount = next((points for under, points in AMOUNT_BANDS if balance_minor < under * scale), AMOUNT_TOP)
    if due_date is None:
        age = AGE_NO_DATE
    elif due_date >= today:
        age = AGE_NOT_DUE
    else:
        late = (today - due_date).days
        age = next((points for days, points in AGE_BANDS if late <= days), AGE_OLDEST)
    if last_contact_at is None:
        contact = CONTACT_NEVER
    elif last_contact_at >= now - timedelta(days=3):
        contact = CONTACT_FRESH
    elif last_contact_at >= now - timedelta(days=14):
        contact = CONTACT_RECENT
    else:
        contact = CONTACT_STALE
    return amount + age + contact + STAGE.get(status, 0)


def _int(points: int) -> Value:
    return Value(points, output_field=IntegerField())


def _amount(currency: str) -> Case:
    scale = 10 ** exponent(currency)
    whens = [When(balance_minor__lt=under * scale, then=_int(points)) for under, points in AMOUNT_BANDS]
    return Case(*whens, default=_int(AMOUNT_TOP), output_field=IntegerField())


def _age(today: date) -> Case:
    whens = [
        When(due_date__isnull=True, then=_int(AGE_NO_DATE)),
        When(due_date__gte=today, then=_int(AGE_NOT_DUE)),
    ]
    whens += [When(due_date__gte=today - timedelta(days=days), then=_int(points)) for days, points in AGE_BANDS]
    return Case(*whens, default=_int(AGE_OLDEST), output_field=IntegerField())


def _contact(now: datetime) -> Case:
    return Case(
        When(last_contact_at__isnull=True, then=_int(CONTACT_NEVER)),
        When(last_contact_at__gte=now - timedelta(days=3), then=_int(CONTACT_FRESH)),
        When(last_contact_at__gte=now - timedelta(days=14), then=_int(CONTACT_RECENT)),
        default=_int(CONTACT_STALE),
        output_field=IntegerField(),
    )


def _stage() -> Case:
    whens = [When(status=status, then=_int(points)) for status, points in STAGE.items()]
    return Case(*whens, default=_int(0), output_field=IntegerField())


def score_expression(currency: str, *, today: date, now: datetime) -> Case:
    """The score of a debt in ``currency`` as a SQL expression (``score`` in SQL)."""
    parts: Any = _amount(currency) + _age(today) + _contact(now) + _stage()
    return Case(
        When(Q(status__in=NOT_COLLECTABLE) | Q(balance_minor__lte=0), then=_int(0)),
        default=parts,
        output_field=IntegerField(),
    )


def priorities_refresh_in_batches(*, workspace: Any, batch: int = 50_000, at: datetime | None = None) -> int:
    """``priorities_refresh`` over the whole workspace, ``batch`` debts (by id) per
    transaction of its own, so a run that rewrites many scores (the first one)
    never holds locks on the whole workspace. Call it outside a transaction."""
    now = at or timezone.now()
    changed, after = 0, None
    while True:
        with workspace_context(workspace):
            ids = Debt.objects.for_workspace(workspace).order_by("pk")
            if after is not None:
                ids = ids.filter(pk__gt=after)
            last = ids.values_list("pk", flat=True)[batch - 1 : batch].first()
            changed += priorities_refresh(workspace_id=workspace.pk, after=after, upto=last, at=now)
        if last is None:
            return changed
        after = last


def priorities_refresh(
    *,
    workspace_id: int,
    debt_ids: Iterable[Any] | None = None,
    after: Any = None,
    upto: Any = None,
    at: datetime | None = None,
) -> int:
    """Score the workspace's debts (or only ``debt_ids``, or those with ids in
    (``after``, ``upto``]) as of ``at``; only rows whose score changes are written. Returns how many changed. Days past due
    count in the server's local date, like the rest of the upkeep."""
    now = at or timezone.now()
    today = timezone.localdate(now)
    debts = Debt.objects.for_workspace(workspace_id)
    if debt_ids is not None:
        debts = debts.filter(pk__in=list(debt_ids))
    if after is not None:
        debts = debts.filter(pk__gt=after)
    if upto is not None:
        debts = debts.filter(pk__lte=upto)
    changed = 0
    for currency in debts.order_by().values_list("currency", flat=True).distinct():
        score = score_expression(currency, today=today, now=now)
        changed += debts.filter(currency=currency).exclude(priority_score=score).update(priority_score=score)
    return changed


def rescore(debt: Debt) -> None:
    """Re-score one debt now (after a payment, a status change or a contact), so
    the queue's order follows at once; one UPDATE."""
    now = timezone.now()
    expression = score_expression(debt.currency, today=timezone.localdate(now), now=now)
    Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).exclude(priority_score=expression).update(
        priority_score=expression
    )
