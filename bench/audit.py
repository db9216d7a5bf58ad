"""Audit trail: events written per second, beside a plain INSERT measured in the same run.

Issue requirement: "audit events written per second, beside a baseline of a plain
INSERT measured in the same run".

* Baseline: one raw-SQL ``INSERT`` per transaction into ``bench_plain_event``, a table
  created for the run with the same columns, indexes, unique constraint and foreign key
  as ``audit_auditevent`` (so the difference is CollectPro's work, not the table's).
* ORM INSERT: the same row through ``Model.save(force_insert=True)``, one per
  transaction: separates what the ORM costs from what the hash chain costs.
* CollectPro: ``audit.services.audit_record(action=..., workspace=ws, metadata={...})``,
  one call per transaction (it opens its own): lock the chain head (``SELECT … FOR
  UPDATE`` on PostgreSQL), build and hash the event, INSERT it, UPDATE the head.
* The same call inside ``workspace_context`` (as in a request): on PostgreSQL this adds
  the statements that set and restore the row-level-security settings.

Every write commits, so the rates depend on how the database syncs its log: SQLite here
runs in WAL mode with ``synchronous=NORMAL`` (no fsync per commit), PostgreSQL with its
defaults (``synchronous_commit=on``: an fsync per commit).
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

from bench import Case, Row, Settings, bench_workspace, compare, rows_from

TABLE = "bench_plain_event"
ACTION = "personal_data.read"
METADATA: dict[str, Any] = {"fields": ["email", "phone"], "purpose": "collection call", "count": 2}
_model_cache: list[Any] = []


def _plain_event_model() -> Any:
    """An unmanaged copy of AuditEvent on its own table (created once per process)."""
    if _model_cache:
        return _model_cache[0]
    from django.db import models

    from audit.models import AuditEvent

    event_meta = AuditEvent._meta
    local_fields: list[Any] = list(event_meta.local_fields)
    attrs: dict[str, Any] = {f.name: f.clone() for f in local_fields}
    attrs["__module__"] = __name__
    attrs["Meta"] = type(
        "Meta",
        (),
        {
            "app_label": "bench",
            "db_table": TABLE,
            "managed": False,
            "indexes": [
                models.Index(fields=index.fields, name=f"bench_pe_idx{i}") for i, index in enumerate(event_meta.indexes)
            ],
            "constraints": [models.UniqueConstraint(fields=["chain", "seq"], name="bench_pe_chain_seq")],
        },
    )
    model = type("BenchPlainEvent", (models.Model,), attrs)
    _model_cache.append(model)
    return model


def _recreate_table(connection: Any, model: Any) -> None:
    with connection.schema_editor() as editor:
        if TABLE in connection.introspection.table_names():
            editor.delete_model(model)
        editor.create_model(model)


def _drop_table(connection: Any, model: Any) -> None:
    with connection.schema_editor() as editor:
        editor.delete_model(model)


def _statements_per_call(connection: Any, run: Any) -> str:
    """Run one call and say how many SQL statements it sent (transaction control apart:
    BEGIN/COMMIT are not all visible to Django, SAVEPOINTs are counted separately).
    Round trips are what a commit-bound benchmark mostly measures, and unlike the
    timings this count is exact."""
    sent: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql.lstrip().split(None, 1)[0].upper())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        run(1)
    savepoints = sum(1 for word in sent if word in ("SAVEPOINT", "RELEASE", "ROLLBACK"))
    statements = sum(1 for word in sent if word not in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"))
    text = f"{statements} SQL statement{'s' if statements != 1 else ''}"
    return f"{text} + {savepoints} savepoint commands" if savepoints else text


def run(quick: bool) -> list[Row]:
    from django.db import connection, transaction
    from django.utils import timezone

    from audit.models import AuditChain, chain_key
    from audit.selectors import verify_chain
    from audit.services import audit_record
    from kernel.tenancy import workspace_context

    settings = Settings.for_run(quick, database=True)
    workspace = bench_workspace("audit")
    model = _plain_event_model()
    _recreate_table(connection, model)
    try:
        seq = itertools.count(1)
        object_id = str(uuid.uuid4())
        zero = "0" * 64
        columns = [
            "chain", "seq", "workspace_id", "created_at", "action", "actor_user_id", "actor_api_key_id",
            "object_type", "object_id", "ip", "user_agent", "request_id", "source", "metadata", "prev_hash", "hash",
        ]  # fmt: skip
        qn = connection.ops.quote_name
        sql = (
            f"INSERT INTO {qn(TABLE)} ({', '.join(qn(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        )
        adapt_dt = connection.ops.adapt_datetimefield_value

        def plain_insert(n: int) -> None:
            for _ in range(n):
                params = [
                    "plain", next(seq), workspace.pk, adapt_dt(timezone.now()), ACTION, None, "",
                    "debtors.debtor", object_id, None, "", "", "system", json.dumps(METADATA), zero, zero,
                ]  # fmt: skip
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(sql, params)

        def orm_insert(n: int) -> None:
            for _ in range(n):
                with transaction.atomic():
                    model(
                        chain="orm", seq=next(seq), workspace=workspace, created_at=timezone.now(), action=ACTION,
                        object_type="debtors.debtor", object_id=object_id, metadata=METADATA,
                        prev_hash=zero, hash=zero,
                    ).save(force_insert=True)  # fmt: skip

        def record(n: int) -> None:
            for _ in range(n):
                audit_record(
                    action=ACTION, workspace=workspace, object_type="debtors.debtor", object_id=object_id,
                    metadata=METADATA,
                )  # fmt: skip

        def record_in_context(n: int) -> None:
            for _ in range(n):
                with workspace_context(workspace):
                    audit_record(
                        action=ACTION, workspace=workspace, object_type="debtors.debtor", object_id=object_id,
                        metadata=METADATA,
                    )  # fmt: skip

        cases = [
            Case(
                "baseline: plain INSERT, 1 per transaction",
                plain_insert,
                "events/s",
                "raw SQL, same columns and indexes",
            ),
            Case("ORM INSERT, 1 per transaction", orm_insert, "events/s", "Model.save(), same table"),
            Case(
                "CollectPro: audit_record(), 1 per transaction",
                record,
                "events/s",
                "lock head, hash, INSERT, UPDATE head",
            ),
            Case(
                "audit_record() inside workspace_context",
                record_in_context,
                "events/s",
                "as in a request (RLS settings on PostgreSQL)",
            ),
        ]
        for case in cases:
            case.notes = f"{case.notes}; {_statements_per_call(connection, case.run)} per event"
        rows = rows_from(compare(cases, settings))
    finally:
        _drop_table(connection, model)

    report = verify_chain(AuditChain.objects.get(key=chain_key(workspace.pk)))
    if not report.ok:
        raise RuntimeError(f"audit chain broken after the benchmark: {report.problem}")
    # The chain check is a sanity check, not timed; say so on the CollectPro row.
    return [
        row._replace(notes=f"{row.notes}; chain of {report.events:,} events verified")
        if row.name.startswith("CollectPro")
        else row
        for row in rows
    ]
