"""The end of a closed workspace: when it is finished, and the final receipt.

A closed workspace is *finished* when, past its ``purge_after`` and not marked purged
yet, nothing of it is due any more:

1. no membership, invitation, API key or saved view is left (the closure stores);
2. every debtor's data is either erased (their data key shredded) or covered by an
   active legal hold: no unheld personal data of a person is left;
3. no other store of a workspace (people's erasure, exports, whatever an app
   registers) has anything due in it at the run's clock.

Then the final store (``retention.workspace_closed``, last in the run) marks it
purged and emails whoever closed it a receipt: what the purges removed since the
closure (per store, from the runs' receipts), and what is kept and why — the books
until the end of ``FINANCIAL_RECORDS``, the records each active hold keeps, and the
other categories the law keeps with their periods. Marking is a conditional update,
so the receipt goes once however often the store runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string

from accounts.jurisdictions import profile_for
from accounts.models import ApiKey, Invitation, Membership, User, Workspace
from accounts.services import user_is_erased
from audit import actions
from audit.services import audit_record
from debtors.models import Debt, Debtor, HoldScope, LedgerEntry, LegalHold, SavedView
from debtors.services.holds import debtors_unheld, holds_active
from kernel.models import SubjectKey
from kernel.privacy.registry import ACCOUNT_LIFETIME, COLLECTION_RECORDS, FINANCIAL_RECORDS, declarations
from kernel.retention import PurgeContext, RetentionStore, Scope, outside_stores, period_days, store_named, stores
from retention.closure_export import WORKSPACE_EXPORTS
from retention.models import PurgeRun
from retention.schedules import periods, rules

FINAL_STORE = "retention.workspace_closed"
# Categories the receipt reports as purged or as the books, not as "also kept".
_NOT_KEPT = frozenset({ACCOUNT_LIFETIME.name, COLLECTION_RECORDS.name, WORKSPACE_EXPORTS.name})


def closed_and_past(workspace: Workspace | None, now: datetime) -> bool:
    """Closed, and its grace period (``purge_after``) is over at ``now``."""
    return (
        workspace is not None
        and workspace.closed_at is not None
        and workspace.purge_after is not None
        and now >= workspace.purge_after
    )


def access_left(workspace: Workspace) -> bool:
    """Any membership, invitation, API key or saved view left."""
    return any(
        model.objects.for_workspace(workspace).exists()  # type: ignore[attr-defined]
        for model in (Membership, Invitation, ApiKey, SavedView)
    )


def erased_debtor_ids(workspace: Workspace) -> set[str]:
    return {
        str(s).replace("-", "")
        for s in SubjectKey.objects.for_workspace(workspace)
        .filter(subject_type="debtor", shredded_at__isnull=False)
        .values_list("subject_id", flat=True)
    }


def people_left(workspace: Workspace) -> bool:
    """A debtor whose data is neither erased nor covered by an active hold."""
    erased = erased_debtor_ids(workspace)
    unheld = debtors_unheld(workspace=workspace, debtors=Debtor.objects.for_workspace(workspace))
    return any(pk.hex not in erased for pk in unheld.values_list("pk", flat=True).iterator(chunk_size=2000))


def _store_has_due(store: RetentionStore, ctx: PurgeContext) -> bool:
    """Whether ``store`` has anything due in the run ``ctx`` describes (same clock,
    same options; the store's own period)."""
    found = store.due(replace(ctx, days=period_days(ctx.workspace, store.rule)))
    if isinstance(found, QuerySet):
        return found.exists()
    return bool(list(found))


def workspace_finished(*, ctx: PurgeContext) -> bool:
    """Whether the run's closed workspace is finished at the run's clock (the
    module's three rules)."""
    workspace = ctx.workspace
    if not closed_and_past(workspace, ctx.now):
        return False
    if Workspace.objects.filter(pk=workspace.pk, purged_at__isnull=False).exists():
        return False
    if access_left(workspace) or people_left(workspace):
        return False
    return not any(_store_has_due(store, ctx) for store in stores(scope=Scope.WORKSPACE) if store.name != FINAL_STORE)


# --- The receipt --------------------------------------------------------------------------


def books_until(*, workspace: Workspace) -> date:
    """When the workspace's books are gone at the latest: ``FINANCIAL_RECORDS`` after
    the end of the financial year in which it was closed (no entry is posted later)."""
    assert workspace.closed_at is not None
    day = workspace.closed_at.date()
    month, dom = profile_for(workspace.jurisdiction).financial_year_end
    year_end = date(day.year, month, dom)
    if year_end < day:
        year_end = date(day.year + 1, month, dom)
    return year_end + timedelta(days=period_days(workspace, FINANCIAL_RECORDS))


@dataclass
class Receipt:
    workspace: Workspace
    purged_at: datetime
    purged: list[dict[str, Any]] = field(default_factory=list)  # {label, category, action, count}
    books: dict[str, Any] = field(default_factory=dict)
    holds: list[dict[str, Any]] = field(default_factory=list)
    held_people: int = 0
    kept: list[dict[str, Any]] = field(default_factory=list)  # {category, what, days, trigger, source}
    outside: list[dict[str, Any]] = field(default_factory=list)  # {label, how, category}: backups…

    @property
    def purged_total(self) -> int:
        return sum(int(p["count"]) for p in self.purged)


def _purged(workspace: Workspace) -> list[dict[str, Any]]:
    """Per store, what the purges since the closure acted on (this run's included)."""
    assert workspace.closed_at is not None
    totals: dict[str, int] = {}
    runs = PurgeRun.objects.for_workspace(workspace).filter(dry_run=False, as_of__gte=workspace.closed_at)
    for progress in runs.values_list("progress", flat=True):
        for name, state in (progress or {}).items():
            totals[name] = totals.get(name, 0) + int(state.get("count", 0))
    lines = []
    for name, count in sorted(totals.items()):
        store = store_named(name)
        if count and name != FINAL_STORE:
            lines.append(
                {
                    "store": name,
                    "label": store.label if store else name,
                    "category": store.category if store else "",
                    "action": str(store.action) if store else "",
                    "count": count,
                }
            )
    return lines


def _hold_line(hold: LegalHold) -> dict[str, Any]:
    # Nothing of a person: the debt's reference, the client's name, or the debtor's id.
    if hold.scope == HoldScope.DEBT:
        covers = f"debt {hold.debt.reference}" if hold.debt else "a debt"
    elif hold.scope == HoldScope.DEBTOR:
        covers = f"a debtor (id {hold.debtor_id}) and their debts"
    elif hold.scope == HoldScope.PORTFOLIO:
        covers = f"every debt of {hold.client.name}" if hold.client else "a client's portfolio"
    else:
        covers = "the whole workspace"
    return {
        "covers": covers,
        "reason": hold.get_reason_display(),
        "case_reference": hold.case_reference,
        "placed_at": hold.placed_at,
        "review_on": hold.review_on,
    }


def closure_receipt(*, workspace: Workspace, now: datetime) -> Receipt:
    """What the final receipt says (see the module docstring)."""
    receipt = Receipt(workspace=workspace, purged_at=now, purged=_purged(workspace))
    financial = periods(workspace=workspace)[FINANCIAL_RECORDS.name]
    receipt.books = {
        "debts": Debt.objects.for_workspace(workspace).count(),
        "ledger_entries": LedgerEntry.objects.for_workspace(workspace).count(),
        "until": books_until(workspace=workspace),
        "days": financial.days,
        "source": financial.source,
    }
    active = holds_active(workspace=workspace).select_related("debt", "client").order_by("placed_at")
    receipt.holds = [_hold_line(h) for h in active]
    erased = erased_debtor_ids(workspace)
    receipt.held_people = sum(
        1 for pk in Debtor.objects.for_workspace(workspace).values_list("pk", flat=True) if pk.hex not in erased
    )
    named, held = rules(), _categories_held(workspace)
    for name, period in periods(workspace=workspace).items():
        if name in held:
            receipt.kept.append(
                {
                    "category": name,
                    "what": ", ".join(sorted(held[name])),
                    "days": period.days,
                    "trigger": named[name].trigger,
                    "source": period.source,
                }
            )
    receipt.outside = [
        {"label": o.label, "how": o.how, "category": o.rule.name} for o in outside_stores() if o.rule.days > 1
    ]
    return receipt


def _categories_held(workspace: Workspace) -> dict[str, set[str]]:
    """The categories (but those the receipt reports otherwise) of which the workspace
    still holds records, from the personal-data registry: category -> record types."""
    held: dict[str, set[str]] = {}
    for decl in declarations():
        if not any(f.name == "workspace" for f in decl.model._meta.concrete_fields):
            continue
        names = {pd.retention.name for pd in decl.fields.values()} - _NOT_KEPT - {FINANCIAL_RECORDS.name, ""}
        if not names:
            continue
        if not decl.model._base_manager.filter(workspace_id=workspace.pk).exists():
            continue
        for name in names:
            held.setdefault(name, set()).add(str(decl.model._meta.verbose_name_plural))
    return held


def _recipient(workspace: Workspace) -> str | None:
    user = User.objects.filter(pk=workspace.closed_by_id).first() if workspace.closed_by_id else None
    if user is None or not user.is_active or user_is_erased(user):
        return None
    return user.email


def workspace_purge_finish(*, workspace: Workspace, now: datetime) -> int:
    """Mark a finished closed workspace purged and email the final receipt to whoever
    closed it (once: a conditional update claims it). Call inside the workspace's
    context; 1 if it was marked now, 0 if it already was."""
    with transaction.atomic():
        claimed = Workspace.objects.filter(pk=workspace.pk, closed_at__isnull=False, purged_at__isnull=True).update(
            purged_at=now
        )
        if not claimed:
            return 0
        workspace = Workspace.objects.get(pk=workspace.pk)
        receipt = closure_receipt(workspace=workspace, now=now)
        recipient = _recipient(workspace)
        metadata: dict[str, Any] = {
            "purged_total": receipt.purged_total,
            "books_debts": receipt.books["debts"],
            "books_until": receipt.books["until"].isoformat(),
            "holds": len(receipt.holds),
            "held_people": receipt.held_people,
            "receipt_sent": recipient is not None,
        }
        for line in receipt.purged:
            metadata[f"purged.{line['store']}"] = int(line["count"])
        audit_record(action=actions.WORKSPACE_PURGED, workspace=workspace, obj=workspace, metadata=metadata)
        if recipient is not None:
            body = render_to_string("retention/closure_receipt_email.txt", {"receipt": receipt})
            subject = f"{workspace.name}: final receipt of the closure"
            transaction.on_commit(
                lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient])
            )
    return 1
