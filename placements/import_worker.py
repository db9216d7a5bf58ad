"""The entry points of placement-import worker processes (see ``import_rows.RowPool``).

Kept apart from ``import_rows``, which imports models: a spawned worker unpickles
these functions by module name before Django is set up, so this module must import
nothing that needs the app registry."""

from __future__ import annotations

import pickle
from typing import Any

_state: dict[str, Any] = {}


def init(state: bytes) -> None:
    import django

    django.setup()  # before unpickling: the context holds model instances
    ctx, maker = pickle.loads(state)  # noqa: S301  (bytes from our own parent process)
    _state.update(ctx=ctx, maker=maker)


def prepare(records: list[tuple[int, list[str]]], seal: bool) -> Any:
    from placements.import_rows import prepare_chunk

    return prepare_chunk(_state["ctx"], _state["maker"] if seal else None, records)
