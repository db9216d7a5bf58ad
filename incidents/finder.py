"""The affected-people finder: from the audit trail, the debtors whose data a user, an
API key, a client's portfolio or one export touched in a window, or everyone of a
client or of the workspace; counted by category and by the way they were found,
then frozen on the incident (``AffectedPerson``) for the notices.

What each trace says (docs/incidents.md, "Finding the people affected"):

- ``personal_data.read|export|download`` name the person's record (``object_type`` /
  ``object_id``) or a page of them (``metadata.ids``) and the field **names** shown;
  the registry turns names into categories (``debtors.debt.status`` → financial).
- Any other audited action on a record the registry ties to a debtor (a note, a
  payment, a status change) means the actor worked on that person's data: found
  "by activity", with the categories that record holds.
- Exports: the queue CSV lists its people in ``personal_data.export`` events that
  follow it in the chain (``debtors.services.data_access.debts_export_record``); a
  client statement is replayed from the ledger (append-only, so exactly what was in
  it); a closed workspace's export is everyone. Exports that hold no debtor's data
  (remittance, the audit log, the register) find no one; the rest are reported as
  "not tied to people".

``affected_find`` only reads; ``incidents.finder_freeze.affected_freeze`` writes
its answer onto the incident.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Client, Workspace
from audit import actions
from audit.models import AuditEvent
from debtors.models import Debt, Debtor, LedgerEntry
from incidents.models import Incident
from kernel.models import stable_label
from kernel.privacy.registry import Category, declarations
from kernel.tenancy import workspace_context
from reporting.queries import COLLECTION, add_months, midnight, posted_between

BATCH = 2000  # ids per lookup
EVENT_CHUNK = 5000


class ScopeKind(models.TextChoices):
    USER = "user", "What one user did in a window"
    API_KEY = "api_key", "What one API key did in a window"
    PORTFOLIO = "portfolio", "A client's portfolio, touched or placed in a window"
    EXPORT = "export", "One export or download"
    CLIENT = "client", "Everyone of one client"
    WORKSPACE = "workspace", "Everyone in the workspace"


WINDOWED = frozenset({ScopeKind.USER, ScopeKind.API_KEY, ScopeKind.PORTFOLIO})

WAYS: dict[str, str] = {
    "read": "Seen (read or revealed)",
    "export": "Exported",
    "download": "Downloaded",
    "activity": "Worked on (other audited actions)",
    "placement": "Placed with the agency",
    "client": "In the client's portfolio",
    "workspace": "In the workspace",
}
ACCESS_WAYS = {
    actions.PERSONAL_DATA_READ: "read",
    actions.PERSONAL_DATA_EXPORT: "export",
    actions.PERSONAL_DATA_DOWNLOAD: "download",
}
# Exports a person may pick (the parts a queue export writes are not exports of their own).
EXPORT_LABELS: dict[str, str] = {
    actions.DEBTS_EXPORTED: "Work queue CSV",
    actions.STATEMENT_DOWNLOADED: "Client statement",
    actions.WORKSPACE_EXPORTED: "Closed workspace's export",
    actions.PERSONAL_DATA_EXPORT: "Personal data export",
    actions.PERSONAL_DATA_DOWNLOAD: "Personal data download",
    actions.REMITTANCE_EXPORTED: "Remittance statement",
    actions.AUDIT_EXPORTED: "Audit log CSV",
    actions.PRIVACY_REQUESTS_EXPORTED: "Rights requests CSV",
    actions.INCIDENTS_EXPORTED: "Breach register CSV",
    actions.RETENTION_HOLDS_EXPORTED: "Legal holds CSV",
}
# Exports that hold no debtor's data (what they hold instead).
NO_DEBTOR_DATA: dict[str, str] = {
    actions.REMITTANCE_EXPORTED: "per-client totals",
    actions.AUDIT_EXPORTED: "ids, actions and staff's addresses",
    actions.PRIVACY_REQUESTS_EXPORTED: "references, types, statuses and dates",
    actions.INCIDENTS_EXPORTED: "references, statuses and dates",
}
WORKSPACE_LABEL = "accounts.workspace"


@dataclass(frozen=True)
class Scope:
    """The question: whose activity (or which export, client, workspace)."""

    kind: str
    user_id: int | None = None
    api_key_id: str = ""
    client_id: str = ""
    export_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}

    @property
    def windowed(self) -> bool:
        return self.kind in WINDOWED


@dataclass(frozen=True)
class Touch:
    """What was touched of one person, and how they were found."""

    categories: frozenset[str]
    ways: frozenset[str]


@dataclass
class FinderResult:
    workspace_id: int
    scope: Scope
    start: datetime | None
    end: datetime | None
    people: dict[uuid.UUID, Touch] = field(default_factory=dict)
    events: int = 0  # audit events read
    unresolved: Counter[str] = field(default_factory=Counter)  # traces not tied to people
    no_people: Counter[str] = field(default_factory=Counter)  # exports holding no debtor's data
    client_ids: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return len(self.people)

    @property
    def by_category(self) -> dict[str, int]:
        return category_counts(t.categories for t in self.people.values())

    @property
    def by_way(self) -> dict[str, int]:
        return way_counts(t.ways for t in self.people.values())

    def question(self) -> dict[str, Any]:
        """The question and its answer in counts, as kept on the incident (no names)."""
        return {
            "scope": self.scope.as_json(),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "found": self.total,
            "events": self.events,
            "by_category": self.by_category,
            "by_way": self.by_way,
            "unresolved": dict(self.unresolved),
            "no_people": dict(self.no_people),
        }


def category_counts(sets: Iterable[Iterable[str]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for categories in sets:
        counts.update(categories)
    return {c: counts[c] for c in Category.values if counts[c]}


def way_counts(sets: Iterable[Iterable[str]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for ways in sets:
        counts.update(ways)
    return {w: counts[w] for w in WAYS if counts[w]}


# --- What the registry says about debtors' records --------------------------------------


@dataclass(frozen=True)
class _Record:
    """A model holding a debtor's data: how to reach the debtor, and its categories."""

    model: Any
    path: str  # "pk" or the lookup of the debtor's id ("debtor_id", "debt__debtor_id")
    fields: dict[str, str]  # field name → category
    categories: frozenset[str]


@cache
def _records() -> dict[str, _Record]:
    """Debtors' records by the name the audit trail uses (``stable_label``)."""
    found = {}
    for decl in declarations():
        if decl.subject_type != "debtor":
            continue
        fields = {name: str(pd.category) for name, pd in decl.fields.items()}
        path = "pk" if decl.subject == "self" else decl.subject
        found[stable_label(decl.model)] = _Record(decl.model, path, fields, frozenset(fields.values()))
    return found


@cache
def held_about_debtors() -> frozenset[str]:
    """Every category CollectPro holds about a debtor (a whole client or workspace)."""
    return frozenset(c for r in _records().values() for c in r.categories)


@cache
def placed_categories() -> frozenset[str]:
    """What a placement carries: the debtor, their further contacts and the debt."""
    records = _records()
    return frozenset(
        c for label in ("debtors.debtor", "debtors.debtorcontact", "debtors.debt") for c in records[label].categories
    )


def categories_of(object_type: str, names: Iterable[str]) -> frozenset[str]:
    """Field names → categories. A name is the field of ``object_type`` or a qualified
    ``app.model.field``; a name the registry does not know counts as everything the
    record holds (it said something was shown, not what: assume the worst)."""
    records = _records()
    own = records.get(object_type)
    found: set[str] = set()
    unknown = False
    for name in names:
        label, _, fname = str(name).rpartition(".")
        record = records.get(label) if label else own
        category = record.fields.get(fname) if record is not None else None
        if category is None:
            unknown = True
        else:
            found.add(category)
    if (unknown or not found) and own is not None:
        found |= own.categories
    if (unknown or not found) and object_type == WORKSPACE_LABEL:
        found |= held_about_debtors()
    return frozenset(found)


# --- Collecting ----------------------------------------------------------------------------


class _Collector:
    """People found so far, and the record ids still to be tied to people."""

    def __init__(self, workspace_id: int, result: FinderResult) -> None:
        self.workspace_id = workspace_id
        self.result = result
        self.touches: dict[tuple[frozenset[str], frozenset[str]], Touch] = {}
        # object type → object id → set of (categories, way)
        self.pending: dict[str, dict[str, set[tuple[frozenset[str], str]]]] = defaultdict(lambda: defaultdict(set))

    def add(self, debtor_id: Any, categories: frozenset[str], way: str) -> None:
        people = self.result.people
        key = debtor_id if isinstance(debtor_id, uuid.UUID) else uuid.UUID(str(debtor_id))
        old = people.get(key)
        cats, ways = (categories, frozenset({way})) if old is None else (old.categories | categories, old.ways | {way})
        if old is not None and old.categories == cats and old.ways == ways:
            return
        people[key] = self.touches.setdefault((cats, ways), Touch(cats, ways))

    def refer(self, object_type: str, object_ids: Iterable[str], categories: frozenset[str], way: str) -> None:
        bucket = self.pending[object_type]
        for object_id in object_ids:
            bucket[str(object_id)].add((categories, way))

    def add_query(self, debtor_ids: Iterable[Any], categories: frozenset[str], way: str) -> None:
        for debtor_id in debtor_ids:
            self.add(debtor_id, categories, way)

    def resolve(self) -> None:
        """Tie every referred record to its debtor, a batch of ids per query."""
        records = _records()
        for object_type, refs in self.pending.items():
            record = records[object_type]
            pk = record.model._meta.pk
            keys: dict[Any, str] = {}
            for raw in refs:
                try:
                    keys[pk.to_python(raw)] = raw
                except ValidationError:
                    continue  # not an id of this model (never written by the app)
            ids = list(keys)
            manager = getattr(record.model, "unscoped", record.model._default_manager)
            for i in range(0, len(ids), BATCH):
                rows = manager.filter(workspace_id=self.workspace_id, pk__in=ids[i : i + BATCH]).values_list(
                    "pk", record.path
                )
                for object_pk, debtor_id in rows:
                    if debtor_id is None:
                        continue
                    for categories, way in refs[keys[object_pk]]:
                        self.add(debtor_id, categories, way)
        self.pending.clear()


_EVENT_COLUMNS = ("id", "chain", "seq", "action", "object_type", "object_id", "metadata")


def _events(workspace_id: int) -> models.QuerySet[AuditEvent, tuple[Any, ...]]:
    return AuditEvent.unscoped.filter(workspace_id=workspace_id).values_list(*_EVENT_COLUMNS)


def _take_event(row: tuple[Any, ...], found: _Collector, *, scanning: bool) -> None:
    """What one audit event says about whose data was touched."""
    _id, _chain, _seq, action, object_type, object_id, metadata = row
    metadata = metadata if isinstance(metadata, dict) else {}
    if action in EXPORT_LABELS and action not in ACCESS_WAYS:
        _take_export(row, found, scanning=scanning)
        return
    records = _records()
    ids = metadata.get("ids") if isinstance(metadata.get("ids"), list) else None
    way = ACCESS_WAYS.get(action)
    if way is None:  # another audited action on a person's record: they were worked on
        if object_type in records and object_id:
            fields = metadata.get("fields")
            categories = (
                categories_of(object_type, fields) if isinstance(fields, list) else records[object_type].categories
            )
            found.refer(object_type, [object_id], categories, "activity")
        return
    categories = categories_of(object_type, metadata.get("fields") or [])
    if object_type == WORKSPACE_LABEL:  # a closed workspace's whole export
        found.add_query(_everyone(found.workspace_id), categories, way)
    elif object_type in records and (ids or object_id):
        found.refer(object_type, ids if ids is not None else [object_id], categories, way)
    else:
        found.result.unresolved[f"{action} {object_type or '(no record)'}"] += 1


def _take_export(row: tuple[Any, ...], found: _Collector, *, scanning: bool) -> None:
    event_id, chain, seq, action, _object_type, _object_id, metadata = row
    metadata = metadata if isinstance(metadata, dict) else {}
    if action in NO_DEBTOR_DATA:
        found.result.no_people[action] += 1
    elif action == actions.DEBTS_EXPORTED and isinstance(metadata.get("parts"), int):
        if not scanning:  # a scan of the actor's events meets the parts by itself
            parts = (
                _events(found.workspace_id)
                .filter(chain=chain, seq__gt=seq, seq__lte=seq + metadata["parts"])
                .filter(action=actions.PERSONAL_DATA_EXPORT)
            )
            for part in parts:
                if isinstance(part[6], dict) and part[6].get("export") == event_id:
                    _take_event(part, found, scanning=scanning)
    elif action == actions.STATEMENT_DOWNLOADED and metadata.get("client_id") and metadata.get("month"):
        found.result.client_ids.add(str(metadata["client_id"]))
        found.add_query(
            _statement_people(found.workspace_id, str(metadata["client_id"]), str(metadata["month"])),
            frozenset({Category.FINANCIAL.value}),
            "export",
        )
    elif action == actions.WORKSPACE_EXPORTED:
        found.add_query(_everyone(found.workspace_id), held_about_debtors(), "export")
    else:  # an export that did not record its people (older queue exports, legal holds)
        found.result.unresolved[action] += 1


def _everyone(workspace_id: int) -> Iterator[Any]:
    return Debtor.unscoped.filter(workspace_id=workspace_id).values_list("pk", flat=True).iterator(chunk_size=BATCH)


def _statement_people(workspace_id: int, client_id: str, month: str) -> Iterator[Any]:
    """The people in a client's statement for ``month`` (YYYY-MM): the debtors of its
    debts with a collection posted that month in the workspace's time zone — replayed
    from the ledger, which is never changed, so it is what the file held."""
    workspace = Workspace.objects.get(pk=workspace_id)
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
        client_uuid = uuid.UUID(client_id)
    except ValueError:
        return iter(())
    tz = ZoneInfo(workspace.timezone)
    start, end = midnight(first, tz), midnight(add_months(first, 1), tz)
    return (
        LedgerEntry.unscoped.filter(workspace_id=workspace_id, debt__client_id=client_uuid)
        .filter(COLLECTION, posted_between(start, end))
        .values_list("debt__debtor_id", flat=True)
        .distinct()
        .iterator(chunk_size=BATCH)
    )


# --- The finder ------------------------------------------------------------------------------


def _check(workspace: Workspace, scope: Scope, start: datetime | None, end: datetime | None) -> None:
    errors: dict[str, str] = {}
    if scope.kind not in ScopeKind.values:
        errors["scope"] = "Choose what to search."
    if scope.windowed:
        if start is None or end is None:
            errors["start"] = "Give the window: from when until when."
        elif end <= start:
            errors["end"] = "The window ends before it starts."
    if scope.kind == ScopeKind.USER and scope.user_id is None:
        errors["user"] = "Choose the user."
    if scope.kind == ScopeKind.API_KEY and not (
        scope.api_key_id and ApiKey.unscoped.filter(workspace_id=workspace.pk, pk=_uuid(scope.api_key_id)).exists()
    ):
        errors["api_key"] = "Choose one of this workspace's API keys."
    if scope.kind in (ScopeKind.PORTFOLIO, ScopeKind.CLIENT) and not (
        scope.client_id and Client.objects.for_workspace(workspace).filter(pk=_uuid(scope.client_id)).exists()
    ):
        errors["client"] = "Choose one of this workspace's clients."
    if scope.kind == ScopeKind.EXPORT:
        exports = AuditEvent.unscoped.filter(workspace_id=workspace.pk, action__in=list(EXPORT_LABELS))
        if scope.export_id is None or not exports.filter(pk=scope.export_id).exists():
            errors["export"] = "Choose one of this workspace's exports."
    if errors:
        raise ValidationError(errors)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def affected_find(
    *, workspace: Workspace, scope: Scope, start: datetime | None = None, end: datetime | None = None
) -> FinderResult:
    """The people of ``workspace`` whose data ``scope`` touched in ``[start, end)``
    (the window is ignored for an export, a whole client or the workspace), with what
    was touched of each and how they were found. Reads only; never another
    workspace's people (every query names the workspace)."""
    _check(workspace, scope, start, end)
    if not scope.windowed:
        start = end = None
    result = FinderResult(workspace_id=workspace.pk, scope=scope, start=start, end=end)
    with workspace_context(workspace):
        found = _Collector(workspace.pk, result)
        if scope.kind == ScopeKind.WORKSPACE:
            found.add_query(_everyone(workspace.pk), held_about_debtors(), "workspace")
        elif scope.kind == ScopeKind.CLIENT:
            result.client_ids.add(scope.client_id)
            found.add_query(_client_people(workspace.pk, scope.client_id), held_about_debtors(), "client")
        elif scope.kind == ScopeKind.EXPORT:
            for row in _events(workspace.pk).filter(pk=scope.export_id or 0):
                result.events += 1
                _take_event(row, found, scanning=False)
        else:
            events = _events(workspace.pk).filter(created_at__gte=start, created_at__lt=end)
            if scope.kind == ScopeKind.USER:
                events = events.filter(actor_user_id=scope.user_id)
            elif scope.kind == ScopeKind.API_KEY:
                events = events.filter(actor_api_key_id=scope.api_key_id)
            else:  # a portfolio: who read, exported or downloaded it (not the nightly jobs' work)
                events = events.filter(action__in=[*ACCESS_WAYS, *EXPORT_LABELS])
            for row in events.order_by().iterator(chunk_size=EVENT_CHUNK):
                result.events += 1
                _take_event(row, found, scanning=True)
        found.resolve()
        if scope.kind == ScopeKind.PORTFOLIO:
            _keep_portfolio(found, scope.client_id, start, end)
    return result


def _client_people(workspace_id: int, client_id: str) -> Iterator[Any]:
    return (
        Debt.unscoped.filter(workspace_id=workspace_id, client_id=client_id)
        .values_list("debtor_id", flat=True)
        .distinct()
        .iterator(chunk_size=BATCH)
    )


def _keep_portfolio(found: _Collector, client_id: str, start: Any, end: Any) -> None:
    """Only the people with a debt of the client; and those the client placed in the window."""
    result = found.result
    result.client_ids.add(client_id)
    touched = list(result.people)
    kept: set[uuid.UUID] = set()
    debts = Debt.unscoped.filter(workspace_id=found.workspace_id, client_id=client_id)
    for i in range(0, len(touched), BATCH):
        kept.update(debts.filter(debtor_id__in=touched[i : i + BATCH]).values_list("debtor_id", flat=True))
    result.people = {pk: touch for pk, touch in result.people.items() if pk in kept}
    placed = debts.filter(created_at__gte=start, created_at__lt=end).values_list("debtor_id", flat=True)
    found.add_query(placed.distinct().iterator(chunk_size=BATCH), placed_categories(), "placement")


def describe(scope: Scope, start: datetime | None, end: datetime | None) -> str:
    """The question in words, without anyone's name (kept in the history)."""
    label = ScopeKind(scope.kind).label if scope.kind in ScopeKind.values else scope.kind
    if start is not None and end is not None:
        return f"{label.lower()}, {start.astimezone(UTC):%Y-%m-%d %H:%M} to {end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return label.lower()


def default_window(incident: Incident, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The window the form proposes: when it happened (or the week before awareness)
    until it ended (or awareness)."""
    end = incident.occurred_until or incident.aware_at or (now or timezone.now())
    start = incident.occurred_at or end - timedelta(days=7)
    return start, end
