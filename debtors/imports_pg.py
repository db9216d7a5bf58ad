"""PostgreSQL fast path for placement imports: COPY into temporary staging tables,
then one set-based ``INSERT … SELECT`` per table.

Why not COPY straight into the real tables: PostgreSQL refuses ``COPY FROM`` into
a table with row-level security for a role subject to it, and the application
role is. ``INSERT … SELECT`` is checked by the tenant policy like any insert, so
every row must (and does) carry the workspace being imported into.

Both paths receive the same prepared rows ({attname: value}, encrypted values
already sealed by ``EncryptedField`` code); the portable path turns them into
model instances for ``bulk_create``, this one COPYs them. Staging tables are temporary (per session,
invisible to other sessions), emptied after each use and created ``LIKE`` their
target, so a new model field is staged without touching this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model
from psycopg import sql


def _stage_name(table: str) -> str:
    return f"placement_stage_{table}"[:63]


def drop_staging(models: Iterable[type[Model]]) -> None:
    """Drop this session's staging tables (a later migration may change the targets)."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(_stage_name(model._meta.db_table))))


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY plain rows into a table this session may COPY into (a temporary one)."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def copy_insert(model: type[Model], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of ``model`` given as {attname: value}: COPY into a staging
    table, then ``INSERT INTO <table> SELECT … FROM <staging>``. A field a row does
    not name gets the field's default (computed once per call), so every row must
    name its primary key. Values go to psycopg as they are: only plain types
    (str, int, bool, date, aware datetime, UUID, None) and ciphertexts."""
    meta = model._meta
    fields = list(meta.concrete_fields)
    pk = meta.pk.attname  # type: ignore[union-attr]
    defaults = {f.attname: f.get_default() for f in fields if not f.primary_key}
    attnames = [f.attname for f in fields]
    table, stage = sql.Identifier(meta.db_table), sql.Identifier(_stage_name(meta.db_table))
    columns = sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {})").format(stage, table))
        raw.execute(sql.SQL("TRUNCATE {}").format(stage))
        with raw.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(stage, columns)) as copy:
            for row in rows:
                if pk not in row:
                    raise ValueError(f"{meta.label}: every row needs its primary key")
                copy.write_row([row[a] if a in row else defaults[a] for a in attnames])
        raw.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(table, columns, columns, stage))
        raw.execute(sql.SQL("TRUNCATE {}").format(stage))


def copy_insert_instances(objs: Sequence[Model]) -> None:
    """``copy_insert`` for unsaved model instances (``pre_save`` runs, as in a save)."""
    if not objs:
        return
    model = type(objs[0])
    fields = list(model._meta.concrete_fields)
    copy_insert(model, [{f.attname: f.pre_save(obj, True) for f in fields} for obj in objs])
