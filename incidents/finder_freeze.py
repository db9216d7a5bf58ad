"""Freezing the finder's answer on an incident: the people found become its
``AffectedPerson`` rows (the list the notices go to), written in batches.

A new freeze **replaces** the rows not yet notified (nor claimed by a sending
worker): people no longer found are removed, the others take the new categories.
Rows already notified are never changed or removed, because those people were told.
``add=True`` adds a further question's people instead (a stolen laptop *and* the
account used on it) and merges categories. Freezing the same answer twice changes
no row. The incident keeps each question and the counts, never names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from incidents.finder import WAYS, FinderResult, category_counts, describe, way_counts
from incidents.models import AffectedPerson, Incident, IncidentUpdate, NoticeStatus
from incidents.services import duties_sync
from kernel.privacy.registry import Category
from kernel.tenancy import workspace_context

BATCH = 2000  # rows per INSERT / UPDATE / DELETE


@dataclass(frozen=True)
class Frozen:
    added: int
    updated: int
    removed: int
    kept_notified: int  # people already notified (or being notified) left as they were
    total: int


def _settled(status: str, claimed_at: Any) -> bool:
    """Told, or being told by a worker: the row is no longer the finder's to change."""
    return status != NoticeStatus.PENDING or claimed_at is not None


def affected_freeze(
    *, incident: Incident, result: FinderResult, actor: Actor = None, add: bool = False, now: datetime | None = None
) -> Frozen:
    """Freeze ``result`` on the incident, in batches: the people found become its
    ``AffectedPerson`` rows, with the categories touched and the ways found.

    Refreezing **replaces** the rows not yet notified (nor claimed for sending):
    people no longer found are removed, the others take the new categories. Rows
    already notified are never changed or removed. With ``add`` nothing is removed
    and categories and ways are merged. The same answer frozen twice changes no row.
    The incident keeps the questions asked and the counts (no names); its history
    and the audit trail record the freeze; client duties follow the people found."""
    now = now or timezone.now()
    workspace_id = incident.workspace_id
    if result.workspace_id != workspace_id:
        raise ValueError("the finder's answer is about another workspace")
    with workspace_context(incident.workspace), transaction.atomic():
        incident = Incident.objects.for_workspace(workspace_id).select_for_update().get(pk=incident.pk)
        rows = AffectedPerson.objects.for_workspace(workspace_id).filter(incident=incident)
        existing = {
            debtor_id: (pk, categories, via, status, claimed)
            for pk, debtor_id, categories, via, status, claimed in rows.values_list(
                "pk", "debtor_id", "categories", "found_via", "notice_status", "notice_claimed_at"
            ).iterator(chunk_size=BATCH)
        }
        create: list[AffectedPerson] = []
        update: list[AffectedPerson] = []
        kept = 0
        for debtor_id, touch in result.people.items():
            row = existing.get(debtor_id)
            categories, ways = set(touch.categories), set(touch.ways)
            if row is None:
                create.append(_person(incident, debtor_id, categories, ways))
                continue
            pk, old_categories, old_via, status, claimed = row
            if _settled(status, claimed):
                kept += 1
                continue
            if add:
                categories |= set(old_categories or [])
                ways |= {w for w in old_via.split(",") if w}
            person = _person(incident, debtor_id, categories, ways, pk=pk)
            if person.categories != old_categories or person.found_via != old_via:
                update.append(person)
        remove = []
        if not add:
            for debtor_id, (pk, _c, _v, status, claimed) in existing.items():
                if debtor_id in result.people:
                    continue
                if _settled(status, claimed):
                    kept += 1
                else:
                    remove.append(pk)
        AffectedPerson.objects.bulk_create(create, batch_size=BATCH)
        AffectedPerson.objects.bulk_update(update, ["categories", "found_via"], batch_size=BATCH)
        for i in range(0, len(remove), BATCH):
            AffectedPerson.objects.for_workspace(workspace_id).filter(pk__in=remove[i : i + BATCH]).delete()
        outcome = _record_freeze(incident, result, actor, add=add, now=now, kept=kept)
        duties_sync(incident=incident)
    return Frozen(len(create), len(update), len(remove), kept, outcome)


def _person(incident: Incident, debtor_id: Any, categories: set[str], ways: set[str], pk: Any = None) -> AffectedPerson:
    person = AffectedPerson(
        workspace_id=incident.workspace_id,
        incident=incident,
        debtor_id=debtor_id,
        categories=[c for c in Category.values if c in categories],
        found_via=",".join(w for w in WAYS if w in ways),
    )
    if pk is not None:
        person.pk = pk
    return person


def _record_freeze(
    incident: Incident, result: FinderResult, actor: Actor, *, add: bool, now: datetime, kept: int
) -> int:
    """Counts from the rows as they now stand (kept notified rows included) onto the
    incident, its history and the audit trail. Returns the number of people."""
    rows = AffectedPerson.objects.for_workspace(incident.workspace_id).filter(incident=incident)
    cats: list[list[str]] = []
    ways: list[list[str]] = []
    for categories, via in rows.values_list("categories", "found_via").iterator(chunk_size=BATCH):
        cats.append(categories or [])
        ways.append(via.split(",") if via else [])
    previous = incident.finder if isinstance(incident.finder, dict) else {}
    question = {
        **result.question(),
        "label": describe(result.scope, result.start, result.end),
        "at": now.isoformat(),
        "by": getattr(actor_user(actor), "pk", None),
    }
    questions = [*previous.get("questions", []), question] if add else [question]
    client_ids = set(previous.get("client_ids", [])) if add else set()
    by_category, by_way = category_counts(cats), way_counts(ways)
    incident.finder = {
        "questions": questions,
        "total": len(cats),
        "by_category": by_category,
        "by_way": by_way,
        "kept_notified": kept,
        "client_ids": sorted(client_ids | result.client_ids),
        # What the incident page shows, in words (labels, not codes).
        "lines": {
            "categories": [[Category(c).label, n] for c, n in by_category.items()],
            "ways": [[WAYS[w], n] for w, n in by_way.items()],
        },
    }
    incident.affected_frozen_at = now
    incident.save(update_fields=["finder", "affected_frozen_at"])
    counts = ", ".join(f"{Category(c).label.lower()} {n}" for c, n in incident.finder["by_category"].items())
    IncidentUpdate(
        workspace_id=incident.workspace_id,
        incident=incident,
        at=now,
        author=actor_user(actor),
        kind="finder",
        text=f"Affected people {'added' if add else 'frozen'}: {len(cats)} in all"
        + (f" ({counts})" if counts else "")
        + f"; this question found {result.total} ({describe(result.scope, result.start, result.end)}).",
    ).save(force_insert=True)
    audit_record(
        action=actions.INCIDENT_AFFECTED_FROZEN,
        workspace=incident.workspace_id,
        obj=incident,
        actor_user_id=getattr(actor_user(actor), "pk", None),
        metadata={
            "reference": incident.reference,
            "scope": result.scope.kind,
            "mode": "add" if add else "replace",
            "found": result.total,
            "total": len(cats),
            "categories": list(incident.finder["by_category"]),
        },
    )
    return len(cats)
