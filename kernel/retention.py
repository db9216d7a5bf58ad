"""Retention: every store of personal data says how it is purged, in one registry.

The personal-data registry (``kernel.privacy.registry``) says how long each field is
kept (a ``Retention`` rule with a ``name``: the *category*). This module holds the
other half: for each *store* — a table, a set of files, a cache — which category it
belongs to, which of its records are past their period and how they are purged.

Each app registers its own stores from ``AppConfig.ready()`` (its ``retention.py``),
because only the app that owns a table may write to it; the ``retention`` app (the
engine, the schedule page, the receipts) reads this registry and imports none of
them. A store is::

    register_store(RetentionStore(
        name="axes.accesslog", rule=SECURITY_LOGS, label="Sign-in log (django-axes)",
        covers="every sign-in: username, IP address, browser",
        action=Action.DELETE, scope=Scope.GLOBAL,
        due=lambda ctx: AccessLog.objects.filter(attempt_time__lt=ctx.cutoff),
        apply=lambda ctx, keys: AccessLog.objects.filter(pk__in=keys).delete()[0],
    ))

The engine (``retention.engine``) walks ``due(ctx)`` in primary-key order from a
cursor, a batch at a time, and calls ``apply(ctx, keys)`` for each batch:

- ``due`` returns a QuerySet (the engine orders it by ``pk``, filters past its cursor
  and slices it) or a sorted list of keys. It must leave out what a legal hold
  covers and what was already purged, and must not change anything.
- ``apply`` acts on exactly those keys, inside the engine's transaction when
  ``atomic`` (the batch's work, its count and the cursor commit together, so a
  killed worker loses or repeats nothing), or managing its own transactions when
  not (it must then be idempotent within one run: applied again to the same keys
  with the same ``ctx.run_id``, it redoes only what is left and returns the same
  count). It returns how many records it acted on.
- ``period_days`` (``ctx.days``) is the workspace's period for the store's rule:
  the registry's default, the jurisdiction profile's, or the workspace's own
  (``retention.schedules``); ``ctx.cutoff`` is ``ctx.now - ctx.days``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models

from kernel.privacy.registry import Retention


class Action(models.TextChoices):
    DELETE = "delete", "Delete"
    PSEUDONYMISE = "pseudonymise", "Pseudonymise"
    ERASE_PERSON = "erase_person", "Erase the person (keep the books)"
    KEEP_AGGREGATES = "keep_aggregates", "Keep aggregates only"
    NOTICE = "notice", "Tell the person before erasure"
    EXPIRES = "expires", "Expires by itself"
    CHECKPOINT = "checkpoint", "Sign a checkpoint (what a later deletion starts from)"


class Scope(models.TextChoices):
    WORKSPACE = "workspace", "Per workspace"
    GLOBAL = "global", "Whole installation"


@dataclass(frozen=True)
class PurgeContext:
    """What a store's ``due`` and ``apply`` are told about the run."""

    workspace: Any  # the Workspace, or None for a global store
    now: datetime  # the run's "as of": a resumed run keeps the time it started with
    days: int  # this workspace's period for the store's rule
    dry_run: bool = False
    run_id: str = ""
    reason: str = ""  # written on what the purge leaves behind ("retention purge <run>")
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def cutoff(self) -> datetime:
        """Records whose period started before this are past it."""
        return self.now - timedelta(days=self.days)

    def shifted(self, days: int) -> PurgeContext:
        """The same context ``days`` later (what falls due in the next 30 days)."""
        return PurgeContext(
            self.workspace, self.now + timedelta(days=days), self.days, True, self.run_id, self.reason, self.options
        )


DueFinder = Callable[[PurgeContext], Any]  # a QuerySet, or a sorted list of keys
Applier = Callable[[PurgeContext, list[Any]], int]


@dataclass(frozen=True)
class RetentionStore:
    name: str  # stable: receipts and --category refer to it ("axes.accesslog")
    rule: Retention  # the category (rule.name) and its default period
    label: str  # for people: "Sign-in log (django-axes)"
    covers: str  # what it holds, in words
    action: str  # an Action
    due: DueFinder
    apply: Applier
    scope: str = Scope.WORKSPACE
    # The registry's model labels ("axes.accesslog") whose records this store purges:
    # tests/retention/test_coverage.py fails when a declared model has no store.
    models: tuple[str, ...] = ()
    trigger: str = ""  # when the period starts, if not the rule's own trigger
    atomic: bool = True
    # ``apply`` removes from ``due`` every record it acts on (a delete does): a real run
    # may then take any ``batch_size`` due records instead of the next ones in key
    # order, which spares the database sorting a backlog for every batch. The engine
    # falls back to the key order as soon as a batch is not all acted on.
    drains: bool = False
    # Optional, for a plain delete: remove up to ``limit`` due records in the database in
    # one statement and say how many went (``delete_due``). A real run then never
    # brings keys to Python; dry runs and estimates still use ``due``.
    purge_batch: Callable[[PurgeContext, int], int] | None = None
    batch_size: int = 2000
    order: int = 100  # run order within a workspace (a notice runs before the erasure it announces)
    # Optional: what a dry run lists for a batch of keys (ids and dates, never a value of the person's).
    describe: Callable[[PurgeContext, list[Any]], list[str]] | None = None

    @property
    def category(self) -> str:
        return self.rule.name

    @property
    def when(self) -> str:
        return self.trigger or self.rule.trigger


@dataclass(frozen=True)
class OutsideStore:
    """Personal data that no purge touches because it goes by itself or elsewhere
    (cache entries with a time to live, backups, logs on the host): listed on the
    schedule with how it goes, so nothing that holds personal data is without a rule."""

    name: str
    rule: Retention
    label: str
    covers: str
    how: str  # "expires 15 minutes after it is written (CACHE TTL)"
    models: tuple[str, ...] = ()


_stores: dict[str, RetentionStore] = {}
_outside: dict[str, OutsideStore] = {}
_period_provider: Callable[[Any, Retention], int] | None = None


def register_store(store: RetentionStore) -> None:
    if not store.rule.name:
        raise ValueError(f"retention store {store.name!r}: its rule has no name (Retention(..., name=...))")
    if store.action not in Action.values:
        raise ValueError(f"retention store {store.name!r}: unknown action {store.action!r}")
    _stores[store.name] = store


def register_outside_store(store: OutsideStore) -> None:
    _outside[store.name] = store


def stores(*, scope: str | None = None, category: str | None = None) -> list[RetentionStore]:
    """The registered stores in run order; ``category`` matches a rule name or a store
    name, case-insensitively."""
    chosen = [
        s
        for s in _stores.values()
        if (scope is None or s.scope == scope)
        and (category is None or category.lower() in (s.category.lower(), s.name.lower()))
    ]
    return sorted(chosen, key=lambda s: (s.order, s.category, s.name))


def outside_stores() -> list[OutsideStore]:
    return sorted(_outside.values(), key=lambda s: (s.rule.name, s.name))


def store_named(name: str) -> RetentionStore | None:
    return _stores.get(name)


def categories() -> list[str]:
    return sorted({s.category for s in _stores.values()} | {s.rule.name for s in _outside.values()})


def set_period_provider(provider: Callable[[Any, Retention], int]) -> None:
    """The retention app tells everyone the workspace's period for a rule (profile and
    workspace settings); without it, the registry's default."""
    global _period_provider
    _period_provider = provider


def period_days(workspace: Any, rule: Retention) -> int:
    """How many days ``rule`` keeps data in ``workspace`` (erasure's "kept until" reads
    this too, so a workspace that keeps its books longer says so in statements)."""
    if _period_provider is None or workspace is None:
        return rule.days
    return _period_provider(workspace, rule)


def keys_after(keys: Iterable[Any], cursor: Any) -> list[Any]:
    """A sorted list of keys past ``cursor`` (for stores whose ``due`` is a list)."""
    return [k for k in keys if cursor is None or str(k) > str(cursor)]


def delete_keys(model: Any, keys: list[Any], *, workspace: Any = None) -> int:
    """Delete the rows ``keys`` of ``model`` (of ``workspace``, if given) in one statement,
    and say how many went: for a store's ``apply`` on a table nothing points at (no
    cascade, no signal to run, so the ORM's collector has nothing to do). On PostgreSQL
    the keys travel as one text parameter read as an array (``= ANY(…)``) instead of a
    placeholder each, which costs a batch of thousands more than the delete itself."""
    if model._meta.related_objects:
        raise ValueError(f"{model._meta.label} is referenced by other tables: delete it through the ORM")
    if not keys:
        return 0
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        pk = model._meta.pk
        kind = pk.db_type(connection)
        # Every name and the type come from the model, the keys from a parameter.
        table, column = qn(model._meta.db_table), qn(pk.column)
        sql = f"DELETE FROM {table} WHERE {column} = ANY(string_to_array(%s, ',')::{kind}[])"  # noqa: S608
        params: list[Any] = [",".join(str(k) for k in keys)]
        if workspace is not None:
            sql += " AND workspace_id = %s"
            params.append(getattr(workspace, "pk", workspace))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return max(cursor.rowcount, 0)
    rows = model._base_manager.filter(pk__in=keys)
    if workspace is not None:
        rows = rows.filter(workspace_id=getattr(workspace, "pk", workspace))
    return int(rows._raw_delete(rows.db))


def delete_due(due: Any, limit: int) -> int:
    """Delete up to ``limit`` rows of the QuerySet ``due`` in one statement,
    ``DELETE … WHERE pk IN (SELECT pk FROM <due> LIMIT n)``, for a ``purge_batch`` on a
    table nothing points at. The subquery is compiled by the ORM from the store's own
    ``due`` (with its holds), so the database deletes exactly what ``due`` would list."""
    model = due.model
    if model._meta.related_objects:
        raise ValueError(f"{model._meta.label} is referenced by other tables: delete it through the ORM")
    qn = connection.ops.quote_name
    pk = qn(model._meta.pk.column)
    inner, params = due.order_by().values("pk")[:limit].query.sql_with_params()
    table = qn(model._meta.db_table)
    # The inner query names its column "pk"; qualified, so a wrong name fails instead of
    # silently correlating with the outer table (which would delete every row).
    sql = f'DELETE FROM {table} WHERE {pk} IN (SELECT due_batch."pk" FROM ({inner}) AS due_batch)'  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)
