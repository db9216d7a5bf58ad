"""The figure cache: every dashboard and portal figure set is cached briefly.

Each entry's key is made of the workspace id and currency, the membership id, its
role and client scope, the client being viewed (portal) and ``today``. Because the
key holds the membership, role and client scope, a member never sees figures
computed for a wider or narrower scope. Entries are never invalidated one by one:
money moving bumps the workspace's generation (``figures_changed``) instead of
every service that writes the ledger knowing which entries to drop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from time import perf_counter, time_ns
from typing import Any, TypeVar, cast

from django.core.cache import cache

from accounts.models import Membership, Workspace
from accounts.roles import can

CACHE_SECONDS = 60
CACHE_VERSION = 2  # 2: figures in the workspace currency only
SLOW_SECONDS = 0.25
SLOW_ENTRY_SECONDS = 3600

T = TypeVar("T")

_force_refresh: ContextVar[bool] = ContextVar("dashboard_force_refresh", default=False)


def _generation_key(workspace_id: int) -> str:
    return f"dashboard-gen:w{workspace_id}"


def figures_changed(workspace_id: int) -> None:
    """Called when money moves (debtors.services.ledger): the next dashboard view
    recomputes instead of showing the last minute's figures."""
    cache.set(_generation_key(workspace_id), time_ns(), None)


def on_ledger_changed(sender: Any, *, workspace_id: int, **kwargs: Any) -> None:
    """Receiver of ``debtors.signals.ledger_changed``."""
    figures_changed(workspace_id)


def _scope_key(membership: Membership) -> str:
    # Everyone who sees the whole workspace sees the same figures: share one entry.
    if membership.client_id is None and can(membership, "debts.view_all"):
        return "all"
    return f"m{membership.pk}:{membership.role}:c{membership.client_id or '-'}"


@contextmanager
def refreshing() -> Iterator[None]:
    """Within this block every figure set is recomputed (and cached again), even a
    fresh one: what the warm task needs."""
    token = _force_refresh.set(True)
    try:
        yield
    finally:
        _force_refresh.reset(token)


def cached(
    name: str, workspace: Workspace, membership: Membership, today: date, compute: Callable[[], T], extra: str = ""
) -> T:
    """Brief caching that stays fast at any size.

    * Small workspaces: an entry lives ``CACHE_SECONDS`` and is recomputed as soon as
      money moves (``figures_changed``), so an agent sees their payment at once.
    * Large ones (the last computation took over ``SLOW_SECONDS``): requests always
      answer from the cache — never a multi-second aggregate in a page view — and
      the ``dashboard_warm`` beat task recomputes the whole-workspace figures every
      minute. The page says how old the figures are.
    """
    generation = cache.get(_generation_key(workspace.pk), 0)
    key = f"dashboard:v{CACHE_VERSION}:{name}:w{workspace.pk}:{workspace.currency}:{_scope_key(membership)}:{extra}:{today.isoformat()}"
    entry = cache.get(key)
    now = time_ns()
    if entry is not None and not _force_refresh.get():
        fresh = entry["gen"] == generation and now - entry["at"] < CACHE_SECONDS * 1_000_000_000
        if fresh or entry["slow"]:
            return cast(T, entry["data"])
    started = perf_counter()
    data = compute()
    slow = perf_counter() - started > SLOW_SECONDS
    cache.set(
        key, {"gen": generation, "at": now, "slow": slow, "data": data}, SLOW_ENTRY_SECONDS if slow else CACHE_SECONDS
    )
    return data
