"""Draining stores (``RetentionStore.drains``): a real run takes any due records per
batch instead of walking the key order (a backlog is then not sorted for every batch),
and falls back to the key order as soon as a batch is not all acted on — so a store
whose ``apply`` refuses or forgets records still ends, with exactly what it did."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from django.utils import timezone

from debtors.models import Note
from kernel.retention import PurgeContext
from retention.engine import purge_run
from retention.models import RunStatus
from tests.conftest import World
from tests.retention.engine_stores import NOTES, notes_apply, notes_of, only_stores, seed

DRAINING = replace(NOTES, name="test.notes.draining", drains=True)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def small_batches(settings: Any) -> None:
    settings.RETENTION_MAX_BATCH = 3


def _run(store: Any, world: World, now: datetime) -> Any:
    with only_stores(store):
        return purge_run(workspace=world.a, now=now)


def test_a_draining_store_purges_exactly_what_is_due(world: World, now: datetime, small_batches: None) -> None:
    made = seed(world.a, now=now)
    run = _run(DRAINING, world, now)
    assert run.status == RunStatus.DONE and run.errors == []
    assert run.counts == {"COLLECTION_RECORDS": {"delete": 8}}
    assert run.progress[DRAINING.name]["cursor"] is None  # never walked the keys
    assert notes_of(world.a, made.old) == 0
    assert notes_of(world.a, made.young) == 4 and notes_of(world.a, made.held) == 4
    assert _run(DRAINING, world, now).total == 0


def test_a_batch_not_all_acted_on_returns_to_the_key_order(world: World, now: datetime, small_batches: None) -> None:
    made = seed(world.a, now=now)
    due_notes = Note.objects.for_workspace(world.a).filter(debt__in=made.old).values_list("pk", flat=True)
    refused = str(sorted(due_notes)[3])

    def refuses_one(ctx: PurgeContext, keys: list[Any]) -> int:
        return notes_apply(ctx, [k for k in keys if str(k) != refused])

    run = _run(replace(DRAINING, apply=refuses_one), world, now)

    assert run.status == RunStatus.DONE
    assert run.progress[DRAINING.name]["walk"] is True
    assert run.total == 7 and notes_of(world.a, made.old) == 1


def test_a_store_that_acts_on_nothing_still_ends(world: World, now: datetime, small_batches: None) -> None:
    """An ``apply`` that claims every key but removes nothing: the engine sees the same
    records again, stops draining and walks the keys once, to the end."""
    made = seed(world.a, now=now)

    def claims_all(ctx: PurgeContext, keys: list[Any]) -> int:
        return len(keys)

    run = _run(replace(DRAINING, apply=claims_all), world, now)

    assert run.status == RunStatus.DONE
    assert notes_of(world.a, made.old) == 8  # nothing was deleted
    assert run.progress[DRAINING.name]["walk"] is True
    # Counted: the batches it was believed for, then every due record once in key order.
    assert run.total > 8 and (run.total - 8) % 3 == 0
