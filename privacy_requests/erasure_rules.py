"""What erasing one debtor does, field by field, decided from the personal-data
registry (no per-model field lists: a newly registered field is covered the day it
is declared). ``erasure_decide`` reads and writes nothing else; ``erasure.py`` plans,
executes and tells.

For every row ``rows_for_subject`` finds and every declared field:

1. **A hold keeps it whole.** A legal hold (``debtors.LegalHold``) on the person, on
   one of their debts, on the portfolio of a client that placed one, or on the whole
   workspace, the stored ``Debt.legal_hold`` flag, or an open dispute keeps the rows
   of each debt it covers, and the person's own rows (identity, contacts) because a
   claim or a dispute needs to know who and how to reach them (GDPR Art. 17(3)(e);
   12 CFR 1006.38). Technical data (tokens, addresses of a browser) is not needed
   for that and follows the registry.
2. **Otherwise the registry's disposition**: ``DELETE``; ``PSEUDONYMISE`` (an
   identity field becomes "Erased person <short id>", free text keeps its words but
   loses the person's own details); ``KEEP_UNTIL`` its retention, counted from the
   last relevant date of that row (the last collection activity, the end of the
   financial year of the last ledger entry, the end of the consent, the closing of
   the request), under the law the declaration names, for the workspace's period of
   that category (``kernel.retention.period_days``: the registry's, the jurisdiction
   profile's or the workspace's own); a retention already over means delete.
3. **Append-only records** (the ledger, the consent ledger) are kept: the database
   refuses to change them, and they are the books and the proof.

How each decision is carried out: a value deleted (a row deleted when all its
fields go and it is not the person's own row), replaced (a pseudonym or a redacted
text sealed under the workspace's key), or kept; a kept value encrypted under the
person's key is moved under their *retention key* first, so shredding their own key
(the last step) destroys everything else. Blind indexes go with their field. Values
already as erasure wants are not counted as work, so a second run finds nothing to do.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Max
from django.utils import timezone

from accounts.jurisdictions import PROFILES
from accounts.models import Workspace
from consent.models import CONSENT_PROOF, ConsentAction, ConsentRecord
from debtors.models import (
    Debt,
    Debtor,
    DebtorContact,
    Dispute,
    DisputeStatus,
    Document,
    HoldScope,
    LedgerEntry,
    LegalHold,
)
from debtors.services.holds import holds_for_debtor
from debtors.services.records import document_sealed_key_id
from kernel.crypto import keyring
from kernel.crypto.fields import EncryptedField, Erased, FieldErasure, stored_key_id
from kernel.privacy.registry import (
    COLLECTION_RECORDS,
    FINANCIAL_RECORDS,
    PD,
    SECURITY_LOGS,
    Category,
    Erasure,
    Retention,
    declaration_for,
    rows_for_subject,
)
from kernel.retention import period_days
from privacy_requests.models import REQUEST_RECORDS

SUBJECT_TYPE = "debtor"
KEEP, DELETE, PSEUDONYMISE = "keep", "delete", "pseudonymise"
LEGAL_HOLD_LAW = "GDPR Art. 17(3)(e): establishing, exercising or defending legal claims (legal hold)"
UNTIL_LIFTED = "the legal hold is lifted"
DISPUTE_LAW = "12 CFR 1006.38: a disputed debt is verified before collection resumes; GDPR Art. 17(3)(e)"
BOOKS_LAW = FINANCIAL_RECORDS.source + ": erasure keeps the books"
# A name token shorter than this is not cut out of free text ("Li" would cut too much).
MIN_TERM = 3
# The last day of each jurisdiction's financial year (its profile says; India's ends on
# 31 March), read by the books' purge too (debtors.services.books).
FINANCIAL_YEAR_END = {code: profile.financial_year_end for code, profile in PROFILES.items()}


def pseudonym_for(debtor: Debtor) -> str:
    """What an erased person is called from now on: stable, and nobody's name."""
    return f"Erased person {str(debtor.pk).replace('-', '')[-8:]}"


@dataclass(frozen=True)
class Hold:
    """What keeps one debt's records (and the person's identity) whole."""

    debt_id: str  # "" for a hold on a person who has no debt
    reference: str
    kind: str  # legal_hold | open_dispute
    law: str
    until: str
    scope: str = ""  # a legal hold's: debtor | debt | portfolio | workspace ("" for the stored flag)
    why: str = ""  # a legal hold's reason and case reference ("litigation, case 2024/77")
    hold_id: str = ""

    @property
    def reason(self) -> str:
        if self.kind != "legal_hold":
            return f"debt {self.reference} is disputed (the dispute is open)"
        target = f"debt {self.reference}" if self.debt_id else "the person"
        on = _HELD_THROUGH.get(self.scope, "") if self.debt_id or self.scope != HoldScope.DEBTOR else ""
        return f"{target} is under a legal hold{on}" + (f" ({self.why})" if self.why else "")


# How a hold reaches a debt, in the statement's words ("debt ZQ-2 is under a legal hold on …").
_HELD_THROUGH: dict[str, str] = {
    HoldScope.DEBTOR: " on the person",
    HoldScope.PORTFOLIO: " on the client's portfolio",
    HoldScope.WORKSPACE: " on the whole workspace",
}


@dataclass
class FieldDecision:
    """One field of one row: what erasure does to it, why, and whether anything is
    left to do."""

    label: str  # app_label.model
    record: str  # the model's verbose name, for people
    pk: str
    field: str
    field_label: str
    category: str
    action: str  # keep | delete | pseudonymise
    how: str  # what is done, in words for the statement
    reason: str
    law: str = ""
    until: str = ""  # an ISO date, or words ("the legal hold is lifted")
    work: bool = False
    op: FieldErasure | None = None  # what the owning app applies (None: nothing, or the shred does it)
    shredded_only: bool = False  # encrypted under the person's key and left to the shred
    sealed_kept: bool = False  # kept, encrypted under the person's retention key (so it must live on)
    has_value: bool = False  # the row holds something in this field
    routine: bool = False  # kept by every erasure (an append-only record, the request's own record)
    unhandled: bool = False  # must change, and no app erases this record: erasure refuses to run


@dataclass
class Decisions:
    workspace: Workspace
    debtor: Debtor
    pseudonym: str
    holds: list[Hold]
    fields: list[FieldDecision] = field(default_factory=list)
    row_deletes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    books: dict[str, Any] = field(default_factory=dict)
    person_key: str | None = None  # the person's own data key id (shredded or not)
    person_key_live: bool = False
    retained_key_live: bool = False
    terms: list[str] = field(default_factory=list)  # the person's values, to cut out of free text; never stored

    @property
    def keeps_sealed_values(self) -> bool:
        """Whether something encrypted is kept (so the retention key must live on)."""
        return any(d.sealed_kept for d in self.fields)

    @property
    def identity_kept(self) -> bool:
        """A hold keeps who the person is: their processing is then restricted to it."""
        return any(d.label == "debtors.debtor" and d.action == KEEP for d in self.fields)

    @property
    def unhandled(self) -> list[str]:
        return sorted({f"{d.label}.{d.field}" for d in self.fields if d.unhandled})

    def ops_for(self, label: str) -> tuple[list[str], dict[str, dict[str, FieldErasure]]]:
        """(row ids to delete, {row id: {field: FieldErasure}}) of one model."""
        deleted = list(self.row_deletes.get(label, []))
        ops: dict[str, dict[str, FieldErasure]] = defaultdict(dict)
        for d in self.fields:
            if d.label == label and d.op is not None and d.work and d.pk not in deleted:
                ops[d.pk][d.field] = d.op
        return deleted, dict(ops)

    @property
    def has_work(self) -> bool:
        """Whether executing would change anything (a second run finds nothing)."""
        return (
            any(d.work for d in self.fields)
            or any(self.row_deletes.values())
            or self.person_key_live
            or (self.retained_key_live and not self.keeps_sealed_values)
            or (self.identity_kept and not self.debtor.processing_restricted)
        )


# --- Retention: from the last relevant date ------------------------------------------------


class _Dates:
    """The dates retention counts from, read once per decision."""

    def __init__(self, workspace: Workspace, debtor: Debtor, debts: list[Debt], now: datetime):
        self.now = now
        self._days: dict[str, int] = {}
        self.debtor = debtor
        self.debts = {str(d.pk): d for d in debts}
        self.fy_end = FINANCIAL_YEAR_END.get(workspace.jurisdiction, (12, 31))
        self.last_entry: dict[str, datetime] = {
            str(row["debt_id"]): row["last"]
            for row in LedgerEntry.objects.for_workspace(workspace)
            .filter(debt_id__in=list(self.debts))
            .values("debt_id")
            .annotate(last=Max("posted_at"))
        }
        self._consent: list[tuple[str, str, datetime]] | None = None
        self._workspace = workspace

    def days(self, rule: Retention) -> int:
        """The workspace's period for ``rule`` (it queries: asked once per rule)."""
        key = rule.name or f"{rule.days}|{rule.trigger}|{rule.source}"
        if key not in self._days:
            self._days[key] = period_days(self._workspace, rule)
        return self._days[key]

    def _debts(self, debt_id: str | None) -> list[Debt]:
        if debt_id is not None and debt_id in self.debts:
            return [self.debts[debt_id]]
        return list(self.debts.values())

    def collection_activity(self, debt_id: str | None) -> datetime:
        """The last collection activity: a contact, a payment, a change of the debt."""
        moments = [self.debtor.created_at]
        for debt in self._debts(debt_id):
            moments += [m for m in (debt.created_at, debt.updated_at, debt.last_contact_at, debt.last_payment_at) if m]
        return max(moments)

    def financial_year_end(self, debt_id: str | None) -> date:
        """The end of the financial year of the last ledger entry (of the debt, or of
        all the person's debts)."""
        posted = [self.last_entry[str(d.pk)] for d in self._debts(debt_id) if str(d.pk) in self.last_entry]
        day = timezone.localdate(max(posted)) if posted else timezone.localdate(self.now)
        month, dom = self.fy_end
        end = date(day.year, month, dom)
        return end if day <= end else date(day.year + 1, month, dom)

    def consent_ended(self, row: ConsentRecord) -> datetime:
        """When the consent this record gave (or took back) ended: its withdrawal, or
        now (erasure ends every consent)."""
        if self._consent is None:
            self._consent = list(
                ConsentRecord.objects.for_workspace(self._workspace)
                .filter(subject_type=SUBJECT_TYPE, subject_id=str(self.debtor.pk))
                .values_list("purpose", "action", "created_at")
            )
        if row.action == ConsentAction.WITHDRAW:
            return row.created_at
        later = [
            at
            for purpose, action, at in self._consent
            if purpose == row.purpose and action == ConsentAction.WITHDRAW and at >= row.created_at
        ]
        return min(later) if later else self.now


def _row_date(instance: models.Model, dates: _Dates) -> datetime:
    """The latest date on a row (for a retention rule this module does not know)."""
    found = [
        getattr(instance, f.attname)
        for f in instance._meta.concrete_fields
        if isinstance(f, models.DateTimeField) and getattr(instance, f.attname)
    ]
    return max(found) if found else dates.now


def retention_end(retention: Retention, instance: models.Model, dates: _Dates) -> date:
    debt_id = str(getattr(instance, "debt_id", "") or "") or None
    if retention == COLLECTION_RECORDS:
        start: date = timezone.localdate(dates.collection_activity(debt_id))
    elif retention == FINANCIAL_RECORDS:
        start = dates.financial_year_end(debt_id)
    elif retention == CONSENT_PROOF and isinstance(instance, ConsentRecord):
        start = timezone.localdate(dates.consent_ended(instance))
    elif retention == REQUEST_RECORDS:
        start = timezone.localdate(getattr(instance, "closed_at", None) or dates.now)
    elif retention == SECURITY_LOGS:
        start = timezone.localdate(getattr(instance, "created_at", None) or dates.now)
    else:
        start = timezone.localdate(_row_date(instance, dates))
    return start + timedelta(days=dates.days(retention))


# --- Holds -----------------------------------------------------------------------------------


def _covers(hold: LegalHold, debt: Debt, debtor: Debtor) -> bool:
    if hold.scope == HoldScope.WORKSPACE:
        return True
    if hold.scope == HoldScope.DEBTOR:
        return hold.debtor_id == debtor.pk
    if hold.scope == HoldScope.PORTFOLIO:
        return hold.client_id == debt.client_id
    return hold.debt_id == debt.pk


def _why(hold: LegalHold) -> str:
    why = hold.get_reason_display().lower()
    return why + (f", case {hold.case_reference}" if hold.case_reference else "")


def holds_for(workspace: Workspace, debtor: Debtor, debts: list[Debt]) -> list[Hold]:
    """What keeps records whole: every active legal hold that covers the person or one
    of their debts (on the person, the debt, the client's portfolio or the workspace),
    the stored ``Debt.legal_hold`` flag of a debt no hold explains, and open disputes.
    One ``Hold`` per debt and cause, the most specific hold first."""
    active = sorted(
        holds_for_debtor(workspace=workspace, debtor=debtor),
        key=lambda h: (list(HoldScope.values).index(h.scope) if h.scope != HoldScope.DEBT else -1, h.placed_at),
    )
    holds: list[Hold] = []
    for d in debts:
        covering = [h for h in active if _covers(h, d, debtor)]
        for h in covering:
            holds.append(
                Hold(str(d.pk), d.reference, "legal_hold", LEGAL_HOLD_LAW, UNTIL_LIFTED, h.scope, _why(h), str(h.pk))
            )
        if d.legal_hold and not covering:
            holds.append(Hold(str(d.pk), d.reference, "legal_hold", LEGAL_HOLD_LAW, UNTIL_LIFTED))
    if not debts:  # a person with no debt: only a hold on them (or on everything) reaches them
        for h in active:
            if h.scope in (HoldScope.DEBTOR, HoldScope.WORKSPACE):
                holds.append(Hold("", "", "legal_hold", LEGAL_HOLD_LAW, UNTIL_LIFTED, h.scope, _why(h), str(h.pk)))
    by_id = {str(d.pk): d for d in debts}
    for debt_id in (
        Dispute.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk, status=DisputeStatus.OPEN)
        .values_list("debt_id", flat=True)
        .distinct()
    ):
        debt = by_id.get(str(debt_id))
        if debt is not None:
            holds.append(Hold(str(debt.pk), debt.reference, "open_dispute", DISPUTE_LAW, "the dispute is resolved"))
    return holds


# --- Free text -------------------------------------------------------------------------------


def person_terms(debtor: Debtor, contacts: list[DebtorContact]) -> list[str]:
    """The person's own values as they may appear in free text, longest first (not
    their pseudonym: it is nobody's)."""
    found: set[str] = set()
    for name in ("full_name", "email", "phone", "address", "date_of_birth", "national_id"):
        value = getattr(debtor, name)
        if not value or isinstance(value, Erased) or value == pseudonym_for(debtor):
            continue
        found.add(value)
        if name == "full_name":
            found.update(w for w in value.split() if len(w) >= MIN_TERM)
        elif name == "email":
            found.add(value.split("@")[0])
        elif name == "phone":
            found.add(value.lstrip("+"))
        elif name == "address":
            found.update(line.strip() for line in value.splitlines() if line.strip())
    if debtor.external_ref:
        found.add(debtor.external_ref)
    for contact in contacts:
        if contact.value and not isinstance(contact.value, Erased):
            found.add(contact.value)
    return sorted((t for t in found if len(t) >= MIN_TERM), key=len, reverse=True)


def redact(text: str, terms: list[str]) -> str:
    """``text`` with the person's own values replaced by "[erased]" (case-insensitive)."""
    if not text or not terms:
        return text
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    return pattern.sub("[erased]", text)


# --- The decisions ---------------------------------------------------------------------------

# Models whose owning app erases rows and fields (privacy_requests.erasure calls it).
# Any other model's encrypted fields are destroyed by the shred; a plain field of
# one that must change is reported as unhandled and erasure refuses to run.
APPLIED = frozenset(
    {
        "debtors.debtor",
        "debtors.debtorcontact",
        "debtors.note",
        "debtors.document",
        "debtors.dispute",
        "communications.communication",
        "privacy_requests.privacyrequest",
    }
)
ROWS_DELETED = frozenset({"debtors.debtorcontact", "debtors.note", "debtors.document"})


def _verbose(model: type[models.Model], name: str) -> str:
    f = model._meta.get_field(name)
    return str(f.verbose_name if isinstance(f, models.Field) else name).capitalize()


def _empty(f: models.Field) -> Any:  # type: ignore[type-arg]
    return None if f.null else f.get_default()


def _action(
    pd: PD, hold: Hold | None, person_level: bool, until: date | None, append_only: bool, applied: bool, today: date
) -> tuple[str, str, str, str]:
    """(action, reason, law, until) for one field of one row."""
    if hold is not None and pd.category != Category.TECHNICAL:
        reason = (
            f"who the person is, and how to reach them, is needed while {hold.reason}" if person_level else hold.reason
        )
        return KEEP, reason, hold.law, hold.until
    if append_only:
        law = pd.keep_law or "the record is append-only (the database refuses to change it)"
        return KEEP, "an append-only record", law, until.isoformat() if until else ""
    if pd.erasure == Erasure.DELETE:
        return DELETE, "the registry says delete", "", ""
    if pd.erasure == Erasure.PSEUDONYMISE:
        return PSEUDONYMISE, "the registry says pseudonymise", "", ""
    assert until is not None
    if until > today:
        return KEEP, "the law requires keeping it", pd.keep_law, until.isoformat()
    if not applied:  # nothing here erases this record: its retention purge will
        return KEEP, f"its retention ended on {until.isoformat()}; the retention purge removes it", pd.keep_law, ""
    return DELETE, f"its retention ended on {until.isoformat()}", pd.keep_law, ""


def erasure_decide(*, workspace: Workspace, debtor: Debtor, now: datetime | None = None) -> Decisions:
    """Every decision for erasing ``debtor`` now (reads only; creates no key)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    ws_id = workspace.pk
    debtor = Debtor.objects.for_workspace(workspace).get(pk=debtor.pk)
    debts = list(Debt.objects.for_workspace(workspace).filter(debtor_id=debtor.pk).order_by("created_at", "pk"))
    holds = holds_for(workspace, debtor, debts)
    holds_by_debt: dict[str, Hold] = {}
    for each in holds:
        holds_by_debt.setdefault(each.debt_id, each)
    person = (SUBJECT_TYPE, str(debtor.pk))
    retained = (keyring.retained_subject_type(SUBJECT_TYPE), str(debtor.pk))
    workspace_subject = ("workspace", str(ws_id))
    person_key = keyring.subject_key_id(ws_id, *person)
    retained_key = keyring.subject_key_id(ws_id, *retained)
    workspace_key = keyring.subject_key_id(ws_id, *workspace_subject)
    contacts = list(DebtorContact.objects.for_workspace(workspace).filter(debtor_id=debtor.pk))
    decisions = Decisions(
        workspace=workspace,
        debtor=debtor,
        pseudonym=pseudonym_for(debtor),
        holds=holds,
        person_key=person_key,
        person_key_live=bool(person_key) and not keyring.subject_key_is_shredded(ws_id, *person),
        retained_key_live=bool(retained_key) and not keyring.subject_key_is_shredded(ws_id, *retained),
        terms=person_terms(debtor, contacts),
    )
    dates = _Dates(workspace, debtor, debts, now)
    for row in rows_for_subject(subject_type=SUBJECT_TYPE, subject_id=debtor.pk, workspace=workspace):
        # ``row.instance`` is a fresh copy: its stored values are still ciphertext (which
        # key seals them is read from there), whereas ``debtor`` was read for its terms.
        model, instance = row.model, row.instance
        label = model._meta.label_lower
        record = str(model._meta.verbose_name).capitalize()
        pk = str(instance.pk)
        debt_id = str(getattr(instance, "debt_id", "") or "") or None
        hold = holds_by_debt.get(debt_id) if debt_id else (holds[0] if holds else None)
        append_only = bool(getattr(model, "rls_append_only", False))
        decl = declaration_for(model)
        row_decisions: list[FieldDecision] = []
        kept_indexes: set[str] = set()
        for name, pd in row.fields.items():
            f = model._meta.get_field(name)
            assert isinstance(f, models.Field)
            until = retention_end(pd.retention, instance, dates) if pd.erasure == Erasure.KEEP_UNTIL else None
            action, reason, law, until_text = _action(
                pd, hold, debt_id is None, until, append_only, label in APPLIED, today
            )
            d = FieldDecision(
                label, record, pk, name, _verbose(model, name), pd.category, action, "", reason, law, until_text
            )
            raw = instance.__dict__.get(f.attname)
            d.has_value = raw not in (None, "", [], {})
            d.routine = action == KEEP and hold is None and (append_only or label.startswith("privacy_requests."))
            encrypted = isinstance(f, EncryptedField)
            sealed_by_person = (
                isinstance(f, EncryptedField)
                and f.subject != "workspace"
                and stored_key_id(raw) in (person_key, retained_key)
            )
            index = f.blind_index if isinstance(f, EncryptedField) else None
            index_set = bool(index and getattr(instance, index))
            if action == KEEP:
                d.how = "kept"
                if sealed_by_person:
                    readable = not isinstance(getattr(instance, name), Erased)
                    d.sealed_kept = readable
                    if stored_key_id(raw) == person_key and readable:
                        d.op, d.work = FieldErasure("reseal", subject=retained), True
                    if not readable:
                        d.how = "already unreadable (its key was shredded)"
                if index:
                    kept_indexes.add(index)
            elif action == DELETE:
                d.how = "deleted"
                d.op = FieldErasure("delete")
                d.work = raw != _empty(f) or index_set
            else:
                current = getattr(instance, name)
                if isinstance(current, Erased) or current in (None, ""):
                    d.how, d.op = "deleted (nothing left to pseudonymise)", FieldErasure("delete")
                    d.work = raw != _empty(f) or index_set
                else:
                    text = decisions.pseudonym if pd.category == Category.IDENTITY else redact(current, decisions.terms)
                    d.how = (
                        f"replaced by the pseudonym “{decisions.pseudonym}”"
                        if pd.category == Category.IDENTITY
                        else "kept with the person's own details cut out"
                    )
                    d.op = FieldErasure("replace", text=text, subject=workspace_subject if encrypted else None)
                    d.work = current != text or index_set or (encrypted and stored_key_id(raw) != workspace_key)
            if label not in APPLIED and d.op is not None and d.work:
                if encrypted and action == DELETE and sealed_by_person:
                    d.how, d.op, d.work, d.shredded_only = "destroyed with the person's data key", None, False, True
                else:
                    d.how, d.unhandled = "NOT HANDLED: no app erases this record", True
            row_decisions.append(d)
            if index:  # the blind index goes (or stays) with its field
                row_decisions.append(
                    FieldDecision(
                        label,
                        record,
                        pk,
                        index,
                        f"Search index of {d.field_label.lower()}",
                        "search index",
                        action if action == KEEP else DELETE,
                        "kept" if action == KEEP else "wiped",
                        d.reason,
                        d.law,
                        d.until,
                        work=index_set and action != KEEP,
                        has_value=index_set,
                    )
                )
        # Blind indexes that belong to no declared field of the row (their field is kept
        # or undeclared): wiped unless their field is kept.
        for f in model._meta.concrete_fields:
            if (
                f.name.endswith("_bidx")
                and f.name not in kept_indexes
                and f.name not in _indexes_of(model, row.fields)
                and getattr(instance, f.attname)
            ):
                row_decisions.append(
                    FieldDecision(
                        label,
                        record,
                        pk,
                        f.name,
                        _verbose(model, f.name),
                        "search index",
                        DELETE,
                        "wiped",
                        "a search index of the person",
                        work=True,
                        op=FieldErasure("delete"),
                        has_value=True,
                    )
                )
        if (
            label in ROWS_DELETED
            and decl is not None
            and decl.subject != "self"
            and not append_only
            and row_decisions
            and all(d.action == DELETE for d in row_decisions)
        ):
            decisions.row_deletes[label].append(pk)
            for d in row_decisions:
                d.how, d.work, d.op = "deleted with its row", True, None
        if isinstance(instance, Document):
            decisions.fields.append(
                _document_file_decision(
                    instance, row_decisions, retained_key, retained, person_key if decisions.person_key_live else None
                )
            )
        decisions.fields += row_decisions
    _books(decisions, debts, dates)
    return decisions


def _indexes_of(model: type[models.Model], fields: dict[str, PD]) -> set[str]:
    out = set()
    for name in fields:
        f = model._meta.get_field(name)
        if isinstance(f, EncryptedField) and f.blind_index:
            out.add(f.blind_index)
    return out


def _document_file_decision(
    doc: Document,
    row_decisions: list[FieldDecision],
    retained_key: str | None,
    retained: tuple[str, str],
    live_person_key: str | None,
) -> FieldDecision:
    """The stored file follows its row: deleted with it, or kept re-encrypted under the
    retention key (its name's decision carries the re-seal)."""
    name = next(d for d in row_decisions if d.field == "original_name")
    d = FieldDecision(
        "debtors.document",
        name.record,
        name.pk,
        "file",
        "File",
        Category.COMMUNICATION,
        name.action,
        "",
        name.reason,
        name.law,
        name.until,
        has_value=True,
    )
    if name.action == KEEP:
        sealed = document_sealed_key_id(doc)
        # A file still under the person's live key, or stored before documents were
        # encrypted, is moved under the retention key; under a shredded key it is gone.
        d.work = sealed is None or (sealed == live_person_key)
        d.how, d.sealed_kept = "kept (encrypted under a retention key)", True
        if sealed == "":
            d.how, d.sealed_kept, d.work = "no file in storage", False, False
        elif sealed is not None and sealed not in (live_person_key, retained_key):
            d.how, d.sealed_kept = "already unreadable (its key was shredded)", False
        if d.work and name.op is None:
            name.op, name.work = FieldErasure("reseal", subject=retained), True
    else:
        d.how, d.work = "removed from storage", True
    return d


def _books(decisions: Decisions, debts: list[Debt], dates: _Dates) -> None:
    entries = LedgerEntry.objects.for_workspace(decisions.workspace).filter(debt_id__in=[d.pk for d in debts]).count()
    until = max((dates.financial_year_end(str(d.pk)) for d in debts), default=None)
    decisions.books = {
        "debts": len(debts),
        "ledger_entries": entries,
        "kept": "each debt's reference, amounts, currency, dates and balance, and every ledger entry's amount, "
        "kind and dates",
        "law": BOOKS_LAW,
        "until": (until + timedelta(days=dates.days(FINANCIAL_RECORDS))).isoformat() if until else "",
    }
