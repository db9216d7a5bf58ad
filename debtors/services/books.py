"""The end of the books: a finished debt's ledger goes when ``FINANCIAL_RECORDS`` ends,
keeping only aggregates (``RetainedTotals``).

Erasing a person keeps the books of their debts: amounts, the ledger, what they
agreed to pay (``Erasure.KEEP_UNTIL``). Those are kept for the books' period (8 years
in India, 7 in the US, 5 in South Africa…) counted from the end of the financial year
of the debt's last ledger entry. After that nothing requires them, so the debt, its
ledger, its arrangements and everything else on it are deleted — after their figures
were added to the client's totals for each financial year, in the same transaction.

A debt's books are due (``books_due``) when:

- the debt is finished (paid, settled, written off, recalled or closed);
- its person's data is already erased (their data key is shredded): the books never
  outlive the person's erasure, which runs first and has its own rules and notices;
- its last ledger entry (or, with none, its placement) is in a financial year that
  ended more than the period before the run's "now" (the financial year per
  jurisdiction: ``JurisdictionProfile.financial_year_end``, in the workspace's time zone);
- no legal hold covers it, its person, its client's portfolio, the workspace, or a
  co-debtor or guarantor on it.

The ledger is append-only: the application's database role may not delete from it.
``kernel.tenancy.rls.prune_append_only`` is the one way, and the database itself
refuses entries younger than the shortest books period of any jurisdiction or of a
debt that is not finished or is held (``LedgerEntry.rls_prune_*``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.models import CharField, Exists, F, Max, OuterRef, Q, QuerySet
from django.db.models.functions import Cast, Replace

from accounts.jurisdictions import profile_for
from debtors.models import (
    Debt,
    Debtor,
    DebtorContact,
    DebtParty,
    DebtStatus,
    Document,
    EntryKind,
    HoldScope,
    InstallmentAllocation,
    LedgerEntry,
    LegalHold,
    OfferStatus,
    PaymentPlan,
    PromiseToPay,
    RetainedTotals,
    SettlementOffer,
)
from debtors.services.holds import debts_unheld, holds_active
from debtors.signals import ledger_changed
from kernel.models import SubjectKey
from kernel.retention import PurgeContext
from kernel.tenancy.rls import prune_append_only

FINISHED = (DebtStatus.PAID, DebtStatus.SETTLED, DebtStatus.WRITTEN_OFF, DebtStatus.RECALLED, DebtStatus.CLOSED)
# Money in (what reporting.queries.COLLECTION counts): a payment, a refund, and the
# reversal of either.
MONEY = frozenset({EntryKind.PAYMENT, EntryKind.REFUND})


class BooksNotPruned(RuntimeError):
    """The database kept ledger entries the purge meant to delete (younger than the
    floor, or the debt changed): the whole batch is rolled back, nothing is counted."""


# --- When ---------------------------------------------------------------------------


def financial_year_end(*, workspace: Any, day: date) -> date:
    """The last day of the financial year ``day`` falls in, in ``workspace``'s jurisdiction."""
    month, dom = profile_for(workspace.jurisdiction).financial_year_end
    end = date(day.year, month, dom)
    return end if day <= end else date(day.year + 1, month, dom)


def _zone(workspace: Any) -> ZoneInfo:
    return ZoneInfo(getattr(workspace, "timezone", "") or "UTC")


def books_boundary(*, workspace: Any, cutoff: datetime) -> datetime:
    """The start of the first financial year whose books are still kept: books whose
    last entry is before this moment belong to a year that ended more than the period
    before now (``cutoff`` = now − period)."""
    zone = _zone(workspace)
    day = cutoff.astimezone(zone).date()
    month, dom = profile_for(workspace.jurisdiction).financial_year_end
    start = date(day.year, month, dom) + timedelta(days=1)  # the day after a year's end
    if start > day:
        start = date(day.year - 1, month, dom) + timedelta(days=1)
    return datetime.combine(start, time.min, tzinfo=zone)


# --- Which ----------------------------------------------------------------------------


def _erased(workspace: Any, debtor_ref: str) -> Exists:
    """Whether the person ``debtor_ref`` (a column holding a debtor's id) was erased:
    their data key is shredded. Keys name the person by the id's text form, which
    PostgreSQL writes with dashes and SQLite stores without."""
    keys = SubjectKey.objects.for_workspace(workspace).filter(subject_type="debtor", shredded_at__isnull=False)
    if connection.vendor == "postgresql":
        return Exists(keys.filter(subject_id=Cast(OuterRef(debtor_ref), output_field=CharField())))
    return Exists(
        keys.annotate(hex=Replace(F("subject_id"), models.Value("-"), models.Value(""))).filter(
            hex=OuterRef(debtor_ref)
        )
    )


def books_due(ctx: PurgeContext) -> QuerySet[Debt]:
    """The debts whose books have passed their period (see the module's docstring)."""
    workspace = ctx.workspace
    boundary = books_boundary(workspace=workspace, cutoff=ctx.cutoff)
    later = LedgerEntry.objects.for_workspace(workspace).filter(debt_id=OuterRef("pk"), posted_at__gte=boundary)
    debts = (
        Debt.objects.for_workspace(workspace)
        .filter(status__in=FINISHED, legal_hold=False, created_at__lt=boundary)
        .filter(_erased(workspace, "debtor_id"))
        .exclude(Exists(later))
    )
    held_people = holds_active(workspace=workspace).filter(scope=HoldScope.DEBTOR).values("debtor_id")
    debts = debts.exclude(
        Exists(DebtParty.objects.for_workspace(workspace).filter(debt_id=OuterRef("pk"), debtor_id__in=held_people))
    )
    return debts_unheld(workspace=workspace, debts=debts)


def books_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    """What a dry run lists: ids, statuses and dates, never a value about the person."""
    rows = (
        Debt.objects.for_workspace(ctx.workspace)
        .filter(pk__in=keys)
        .annotate(last=Max("entries__posted_at"), n=models.Count("entries"))
        .order_by("pk")
        .values_list("pk", "status", "n", "last", "created_at")
    )
    return [
        f"debt {pk} ({status}): {n} ledger entries, last {(last or created).date().isoformat()}"
        for pk, status, n, last, created in rows
    ]


# --- The aggregates ---------------------------------------------------------------------


@dataclass
class _Figures:
    debts: int = 0
    original: int = 0
    written_off: int = 0
    balance: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    entries: int = 0
    charged: int = 0
    interest: int = 0
    fees: int = 0
    collected: int = 0
    adjusted: int = 0
    ledger: int = 0
    plans: int = 0
    promises: int = 0
    offers: int = 0
    offers_accepted: int = 0

    def add_entry(self, kind: str, amount: int, reversed_kind: str | None) -> None:
        self.entries += 1
        self.ledger += amount
        if kind == EntryKind.CHARGE:
            self.charged += amount
        elif kind == EntryKind.INTEREST:
            self.interest += amount
        elif kind == EntryKind.FEE:
            self.fees += amount
        elif kind in MONEY or (kind == EntryKind.REVERSAL and reversed_kind in MONEY):
            self.collected -= amount  # money in is negative on the ledger
        else:  # adjustments, and reversals of charges, interest, fees and adjustments
            self.adjusted += amount


Key = tuple[Any, str, date]  # client id, currency, financial year's end


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _figures(workspace: Any, debts: list[Any]) -> tuple[dict[Key, _Figures], list[Any]]:
    """The batch's figures per client, currency and financial year, and its entries' ids."""
    zone = _zone(workspace)
    ids = [d["pk"] for d in debts]
    by_debt = {d["pk"]: d for d in debts}
    figures: dict[Key, _Figures] = defaultdict(_Figures)
    last: dict[Any, datetime] = {}
    entry_ids = []
    entries = (
        LedgerEntry.objects.for_workspace(workspace)
        .filter(debt_id__in=ids)
        .values_list("pk", "debt_id", "kind", "amount_minor", "posted_at", "reverses__kind")
    )
    for pk, debt_id, kind, amount, posted_at, reversed_kind in entries:
        debt = by_debt[debt_id]
        year = financial_year_end(workspace=workspace, day=_local_day(posted_at, zone))
        figures[(debt["client_id"], debt["currency"], year)].add_entry(kind, amount, reversed_kind)
        last[debt_id] = max(last.get(debt_id, posted_at), posted_at)
        entry_ids.append(pk)
    arrangements: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for model, name in ((PaymentPlan, "plans"), (PromiseToPay, "promises"), (SettlementOffer, "offers")):
        for debt_id, n in (
            model.objects.for_workspace(workspace)
            .filter(debt_id__in=ids)
            .values_list("debt_id")
            .annotate(n=models.Count("pk"))
            .order_by()
        ):
            arrangements[debt_id][name] = n
    for debt_id, amount in (
        SettlementOffer.objects.for_workspace(workspace)
        .filter(debt_id__in=ids, status=OfferStatus.ACCEPTED)
        .values_list("debt_id")
        .annotate(total=models.Sum("amount_minor"))
        .order_by()
    ):
        arrangements[debt_id]["offers_accepted"] = int(amount or 0)
    for debt in debts:
        closed = last.get(debt["pk"], debt["created_at"])
        year = financial_year_end(workspace=workspace, day=_local_day(closed, zone))
        f = figures[(debt["client_id"], debt["currency"], year)]
        f.debts += 1
        f.original += debt["original_amount_minor"]
        f.balance += debt["balance_minor"]
        if debt["status"] == DebtStatus.WRITTEN_OFF:
            f.written_off += debt["balance_minor"]
        f.statuses[debt["status"]] += 1
        done = arrangements.get(debt["pk"], {})
        f.plans += done.get("plans", 0)
        f.promises += done.get("promises", 0)
        f.offers += done.get("offers", 0)
        f.offers_accepted += done.get("offers_accepted", 0)
    return figures, entry_ids


def _add_to_totals(workspace: Any, figures: dict[Key, _Figures], now: datetime) -> None:
    for (client_id, currency, year_end), f in sorted(figures.items(), key=lambda kv: (str(kv[0][0]), *kv[0][1:])):
        row, _ = (
            RetainedTotals.objects.for_workspace(workspace)
            .select_for_update()
            .get_or_create(workspace_id=workspace.pk, client_id=client_id, currency=currency, year_end=year_end)
        )
        statuses = dict(row.statuses or {})
        for status, n in f.statuses.items():
            statuses[status] = int(statuses.get(status, 0)) + n
        row.statuses = statuses
        row.debts += f.debts
        row.original_minor += f.original
        row.written_off_minor += f.written_off
        row.balance_minor += f.balance
        row.entries += f.entries
        row.charged_minor += f.charged
        row.interest_minor += f.interest
        row.fees_minor += f.fees
        row.collected_minor += f.collected
        row.adjusted_minor += f.adjusted
        row.ledger_minor += f.ledger
        row.plans += f.plans
        row.promises += f.promises
        row.offers += f.offers
        row.offers_accepted_minor += f.offers_accepted
        row.updated_at = now
        row.save()


def retained_totals(*, workspace: Any, client: Any = None) -> QuerySet[RetainedTotals]:
    """The aggregates kept of purged books, oldest year first."""
    qs = RetainedTotals.objects.for_workspace(workspace)
    if client is not None:
        qs = qs.filter(client=client)
    return qs.order_by("year_end", "client_id", "currency")


# --- The purge ---------------------------------------------------------------------------


def _protected_by(model: type[models.Model], ids: Iterable[Any], *, ignore: tuple[type, ...] = ()) -> set[Any]:
    """Which of ``ids`` rows of ``model`` another row refuses to let go: a PROTECT or
    RESTRICT foreign key in any app (a rights request, an erasure plan…), found through
    the model's relations, so this app names none of the apps above it."""
    ids = list(ids)
    kept: set[Any] = set()
    for rel in model._meta.related_objects:
        if not ids or rel.on_delete not in (models.PROTECT, models.RESTRICT) or rel.related_model in ignore:
            continue
        related: Any = rel.related_model
        rows = related._base_manager.filter(**{f"{rel.field.name}__in": ids})
        kept |= set(rows.values_list(rel.field.attname, flat=True))
    return kept


def _files_of(documents: QuerySet[Document]) -> list[str]:
    return [name for name in documents.values_list("storage_name", flat=True) if name]


def _people_left_behind(workspace: Any, candidates: set[Any]) -> list[Any]:
    """The erased people of the batch with nothing left to keep them: no debt (as debtor,
    co-debtor or guarantor), no active hold, no row elsewhere that protects them. Their
    lifted holds do not keep them (the holds go with them)."""
    if not candidates:
        return []
    still = (
        Debtor.objects.for_workspace(workspace)
        .filter(pk__in=candidates)
        .filter(_erased(workspace, "pk"))
        .exclude(Exists(Debt.objects.for_workspace(workspace).filter(debtor_id=OuterRef("pk"))))
        .exclude(Exists(DebtParty.objects.for_workspace(workspace).filter(debtor_id=OuterRef("pk"))))
        .exclude(pk__in=holds_active(workspace=workspace).filter(scope=HoldScope.DEBTOR).values("debtor_id"))
    )
    ids = set(still.values_list("pk", flat=True))
    return sorted(ids - _protected_by(Debtor, ids, ignore=(LegalHold,)), key=str)


def books_purge(ctx: PurgeContext, keys: list[Any]) -> int:
    """Add the books of the debts ``keys`` (those still due) to the retained totals, then
    delete the debts with everything on them; how many debts went. Runs in the
    engine's transaction (one batch: a few hundred debts), so the totals and the
    deletion commit together or not at all."""
    workspace = ctx.workspace
    with transaction.atomic():
        debts: list[Any] = list(
            books_due(ctx)
            .filter(pk__in=keys)
            .select_for_update()
            .values("pk", "client_id", "currency", "status", "original_amount_minor", "balance_minor", "created_at")
        )
        if not debts:
            return 0
        ids = [d["pk"] for d in debts]
        debts_qs = Debt.objects.for_workspace(workspace).filter(pk__in=ids)
        people = set(debts_qs.values_list("debtor_id", flat=True))
        people |= set(
            DebtParty.objects.for_workspace(workspace).filter(debt_id__in=ids).values_list("debtor_id", flat=True)
        )
        figures, entry_ids = _figures(workspace, debts)
        _add_to_totals(workspace, figures, ctx.now)

        # What hangs on the ledger first: the database will not cascade for the prune.
        InstallmentAllocation.objects.for_workspace(workspace).filter(
            Q(entry__debt_id__in=ids) | Q(installment__plan__debt_id__in=ids)
        ).delete()
        pruned = prune_append_only(LedgerEntry, entry_ids)
        if pruned != len(entry_ids):
            raise BooksNotPruned(
                f"{len(entry_ids) - pruned} of {len(entry_ids)} ledger entries were refused by the database "
                "(younger than the floor, or their debt is held or not finished)"
            )
        # A lifted hold names the debt it held: it goes with it (its placing and
        # lifting stay in the audit trail). An active hold would have kept the debt.
        LegalHold.objects.for_workspace(workspace).filter(debt_id__in=ids, lifted_at__isnull=False).delete()
        files = _files_of(Document.objects.for_workspace(workspace).filter(debt_id__in=ids))
        # Plans, installments, promises, offers, parties, the timeline, notes, disputes,
        # documents, messages, payment links and checkouts, sequences, contact
        # decisions: every row on the debt cascades with it.
        debts_qs.delete()

        gone = _people_left_behind(workspace, people)
        if gone:
            files += _files_of(Document.objects.for_workspace(workspace).filter(debtor_id__in=gone))
            LegalHold.objects.for_workspace(workspace).filter(debtor_id__in=gone).delete()
            DebtorContact.objects.for_workspace(workspace).filter(debtor_id__in=gone).delete()
            Debtor.objects.for_workspace(workspace).filter(pk__in=gone).delete()

        workspace_id = workspace.pk
        transaction.on_commit(lambda: ledger_changed.send(sender=LedgerEntry, workspace_id=workspace_id))
        for name in files:
            transaction.on_commit(lambda name=name: default_storage.delete(name))  # type: ignore[misc]
    return len(ids)
