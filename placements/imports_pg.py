"""PostgreSQL fast path for placement imports: COPY into temporary staging tables,
then one set-based ``INSERT … SELECT`` per table.

Why not COPY straight into the real tables: PostgreSQL refuses ``COPY FROM`` into
a table with row-level security for a role subject to it, and the application
role is. ``INSERT … SELECT`` is checked by the tenant policy like any insert, so
every row must (and does) carry the workspace being imported into.

Both paths receive the same prepared rows (tuples of values in a named column
order, encrypted values already sealed by ``kernel.crypto.fields``); the
portable path turns them into model instances for ``bulk_create``, this one COPYs
them. Staging tables are temporary (per session,
invisible to other sessions), emptied after each use and made from their target's
columns, so a new model field is staged without touching this module; a field the
rows don't name gets its default.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from psycopg import sql

STAGE_PREFIX = "placement_stage_"


def _stage_name(table: str, columns: Sequence[str]) -> str:
    # One staging table per (table, column list): a table written with different
    # column lists (e.g. timeline events with and without an amount) gets several.
    digest = zlib.crc32(",".join(columns).encode())
    return f"{STAGE_PREFIX}{table[:36]}_{digest:08x}"


def drop_staging() -> None:
    """Drop this session's staging tables (a later migration may change the targets)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND left(relname, %s) = %s",
            [len(STAGE_PREFIX), STAGE_PREFIX],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY plain rows into a table this session may COPY into (a temporary one)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def copy_insert(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows of ``model``, each a sequence of values in ``columns`` order
    (attnames, the primary key among them): COPY into a staging table of just those
    columns, then ``INSERT INTO <table> SELECT … FROM <staging>`` with every other
    field's default as a constant. Values go to psycopg as they are: plain types
    (str, int, bool, date, aware datetime, UUID, bytes, None) and ciphertexts."""
    meta = model._meta
    fields = {f.attname: f for f in meta.concrete_fields}
    if meta.pk.attname not in columns:  # type: ignore[union-attr]
        raise ValueError(f"{meta.label}: every row needs its primary key")
    unknown = [c for c in columns if c not in fields]
    if unknown:
        raise ValueError(f"{meta.label} has no field(s) {', '.join(unknown)}")
    given = [fields[c] for c in columns]
    others = [f for name, f in fields.items() if name not in columns]
    table = sql.Identifier(meta.db_table)
    stage = sql.Identifier(_stage_name(meta.db_table, columns))
    given_sql = sql.SQL(", ").join(sql.Identifier(f.column) for f in given)
    target_sql = sql.SQL(", ").join(sql.Identifier(f.column) for f in [*given, *others])
    selected: list[sql.Composable] = [sql.Identifier(f.column) for f in given]
    for f in others:
        selected.append(sql.SQL("{}::{}").format(sql.Literal(f.get_default()), sql.SQL(str(f.db_type(connection)))))
    select_sql = sql.SQL(", ").join(selected)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # CREATE TABLE AS copies no NOT NULL constraint, so the stage takes just the
        # given columns; rows leave it after each use (TRUNCATE below, or rollback).
        raw.execute(
            sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} AS SELECT {} FROM {} WITH NO DATA").format(
                stage, given_sql, table
            )
        )
        with raw.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, given_sql)) as copy:
            for row in rows:
                copy.write_row(row)
        raw.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(table, target_sql, select_sql, stage))
        raw.execute(sql.SQL("TRUNCATE {}").format(stage))
