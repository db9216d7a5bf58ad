"""The affected-people finder on 1,000,000 debts and 10,000,000 audit events (issue 14:
"Finding the affected people for one user's week of activity among 1,000,000 debts and
10,000,000 audit events: at most 5 s; report the ratio to the plain SQL").

* Data: the workspace ``seed_million`` seeds (1,000,000 debts of 20,000 debtors, about
  1,450,000 ledger entries; ``--quick``: its 50,000-debt one) and, once, 10,000,000
  audit events in it (``--quick``: 500,000) over the year before the seed, loaded
  set-based (``INSERT … SELECT`` over ``generate_series``, indexes rebuilt after) in a
  chain of their own (``bench:ws:<id>``), so the workspace's real chain still verifies:
  they need not be hash-valid. The mix (``MIX``): half the system's work on debts and
  payments, a quarter an API key's reads (a debtor, or a page of 5) and new debts, a
  quarter the owner's and the five agents' reveals, debt changes, payments and
  sign-ins, each on a random real debtor, debt or ledger entry. Then one agent exports
  2,000 debts of the queue through ``debts_export_record`` (its people in two
  ``personal_data.export`` events). A marker event says the seed is complete; a
  second run reuses it.
* Measured, each ``REPEATS`` times, interleaved with its baseline, inside
  ``workspace_context`` (so under row-level security as the application role when
  ``TENANCY_DB_ROLE`` is set):

  - **one user's week**: ``affected_find`` for the agent over the last 7 days (the
    requirement: ≤ 5 s) against **the plain SQL it boils down to**: one statement
    that takes that user's events of the week and returns the distinct debtor ids
    they reach (debtor records, pages of ids, debts and ledger entries → debtor);
  - one API key's week, the agent's export, and the whole workspace, each against its
    own plain SQL.

  Ratio = SQL time / finder time (1 = as fast; 0.1 = ten times the time).
* Freezing the user's week on an incident (``affected_freeze``, rolled back) against
  a plain ``INSERT … SELECT`` of the same rows (rolled back).

``python -m bench.incidents --index-experiment`` also times the API key's week with an
index on ``(workspace_id, actor_api_key_id, created_at)`` created in a transaction that
is rolled back (the trail has none; see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench import Row

VENDORS = ("postgresql",)
RUN_MODE = "median of the repeats, each finder call against its plain SQL in the same repeat; freezing rolled back"
EVENTS_FULL = 10_000_000
EVENTS_QUICK = 500_000
REPEATS = 5
QUICK_REPEATS = 3
TARGET_SECONDS = 5.0
EXPORT_ROWS = 2000
SEED_VERSION = 1
MARKER = "bench.incidents_seeded"
SPAN_DAYS = 365
WEEK = timedelta(days=7)

REVEAL_FIELDS = '["address", "date_of_birth", "email", "full_name", "national_id", "phone"]'
# (name, share, actor: system | api | user, action, object: debtor | debtor_page | debt | entry | none)
MIX: tuple[tuple[str, float, str, str, str], ...] = (
    ("system: debt status changes", 0.35, "system", "debt.status_changed", "debt"),
    ("system: payments from webhooks", 0.15, "system", "ledger.payment", "entry"),
    ("API key: debtor read", 0.15, "api", "personal_data.read", "debtor"),
    ("API key: page of 5 debtors", 0.05, "api", "personal_data.read", "debtor_page"),
    ("API key: new debt", 0.05, "api", "debt.created", "debt"),
    ("users: reveal on the debt page", 0.10, "user", "personal_data.read", "debtor"),
    ("users: debt status or assignment", 0.08, "user", "debt.status_changed", "debt"),
    ("users: payment recorded", 0.05, "user", "ledger.payment", "entry"),
    ("users: sign-in", 0.02, "user", "auth.login", "none"),
)


@dataclass(frozen=True)
class Seeded:
    workspace: Any
    user_id: int
    api_key_id: str
    export_id: int
    t_end: datetime
    events: int
    debts: int


# --- Seeding ----------------------------------------------------------------------------


def _marker(workspace: Any) -> Any:
    from audit.models import AuditEvent

    return AuditEvent.unscoped.filter(
        workspace_id=workspace.pk, chain=f"bench:ws:{workspace.pk}", action=MARKER
    ).first()


def ensure(quick: bool, *, verbose: bool = True) -> Seeded:
    """The seeded events (seeding them once, in one transaction, if missing)."""
    from bench.seed_million import ensure as ensure_debts
    from bench.seed_million import scale_for

    debts = ensure_debts(scale_for(quick), verbose=verbose)
    total = EVENTS_QUICK if quick else EVENTS_FULL
    marker = _marker(debts.workspace)
    if marker is None:
        _seed(debts, total, verbose=verbose)
        marker = _marker(debts.workspace)
    meta = marker.metadata
    if meta.get("events") != total or meta.get("version") != SEED_VERSION:
        raise RuntimeError(f"{debts.workspace.slug} holds a different events seed ({meta}); use a fresh database")
    if verbose:
        print(f"seed: reusing {total:,} audit events in {debts.workspace.slug}")
    return Seeded(
        workspace=debts.workspace,
        user_id=int(meta["user"]),
        api_key_id=str(meta["api_key"]),
        export_id=int(meta["export"]),
        t_end=datetime.fromisoformat(str(meta["t_end"])),
        events=total,
        debts=debts.scale.debts,
    )


def _execute(sql: str, params: list[Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _seed(debts: Any, total: int, *, verbose: bool) -> None:
    from django.db import transaction
    from django.utils import timezone

    from accounts.services import api_key_create
    from audit.models import AuditEvent
    from bench.seed_million import _bulk_load, insert_select_sql
    from debtors.models import Debt
    from debtors.services.data_access import debts_export_record
    from kernel.context import request_info
    from kernel.tenancy import workspace_context

    workspace = debts.workspace
    user = debts.agents[0]
    started = time.perf_counter()
    with transaction.atomic():
        _execute("SET LOCAL work_mem = '64MB'")
        # Foreign keys checked per statement, not at COMMIT: the bulk load drops and re-adds
        # the trail's, which pending (deferred) checks would forbid.
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
        with workspace_context(workspace):
            key = api_key_create(workspace=workspace, name="Bench integration")
            # The agent's export of the queue, through the service (its people in two parts).
            exported = list(
                Debt.objects.for_workspace(workspace)
                .filter(assigned_agent_id=user.pk)
                .order_by("-priority_score", "-balance_minor", "-id")
                .values_list("debtor_id", flat=True)[:EXPORT_ROWS]
            )
            with request_info(actor_user_id=user.pk, source="web"):
                export = debts_export_record(
                    workspace=workspace, rows=len(exported), filters=["agent"], debtor_ids=exported
                )
        t_end = timezone.now()
        for name, source in (
            ("b_debtor", "SELECT id FROM debtors_debtor WHERE workspace_id = %s"),
            ("b_debt", "SELECT id FROM debtors_debt WHERE workspace_id = %s"),
            ("b_entry", "SELECT id FROM debtors_ledgerentry WHERE workspace_id = %s"),
        ):
            _execute(
                f"CREATE TEMP TABLE {name} ON COMMIT DROP AS "
                f"SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM ({source}) s",
                [workspace.pk],
            )
            _execute(f"CREATE UNIQUE INDEX ON {name} (n)")
            _execute(f"ANALYZE {name}")
        sizes = {name: _scalar(f"SELECT count(*) FROM {name}") for name in ("b_debtor", "b_debt", "b_entry")}
        users = [debts.owner.pk, *(a.pk for a in debts.agents)]
        chain = f"bench:ws:{workspace.pk}"
        offset = 0
        with _bulk_load(AuditEvent._meta.db_table):
            for salt, (name, share, actor, action, obj) in enumerate(MIX, start=1):
                count = round(total * share)
                exprs, join = _event_exprs(
                    workspace.pk, chain, offset, salt, actor, action, obj, users, str(key.api_key.pk), t_end, sizes
                )
                source = f"generate_series(1, {count}) AS g {join}"
                step = time.perf_counter()
                rows = _execute(insert_select_sql(AuditEvent, exprs, source))
                offset += count
                if verbose:
                    print(f"seed: {name}: {rows:,} events in {time.perf_counter() - step:.1f} s", flush=True)
            if verbose:
                print("seed: rebuilding the audit trail's indexes …", flush=True)
        _execute(
            "INSERT INTO audit_auditevent (chain, seq, workspace_id, created_at, action, actor_user_id, "
            "actor_api_key_id, object_type, object_id, ip, user_agent, request_id, source, metadata, prev_hash, hash) "
            "VALUES (%s, %s, %s, %s, %s, NULL, '', '', '', NULL, '', '', 'cli', %s::jsonb, %s, %s)",
            [
                chain,
                offset + 1,
                workspace.pk,
                t_end,
                MARKER,
                json.dumps(
                    {
                        "events": total,
                        "version": SEED_VERSION,
                        "user": user.pk,
                        "api_key": str(key.api_key.pk),
                        "export": export.pk,
                        "t_end": t_end.isoformat(),
                    }
                ),
                "0" * 64,
                "0" * 64,
            ],
        )
    _execute("VACUUM (ANALYZE) audit_auditevent")
    if verbose:
        print(f"seed: {total:,} audit events in {time.perf_counter() - started:.0f} s", flush=True)


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def _event_exprs(
    workspace_id: int,
    chain: str,
    offset: int,
    salt: int,
    actor: str,
    action: str,
    obj: str,
    users: list[int],
    api_key_id: str,
    t_end: datetime,
    sizes: dict[str, int],
) -> tuple[dict[str, str], str]:
    """Column expressions of one kind of event, and the join that picks its record."""
    from bench.seed_million import _u

    user_array = "ARRAY[" + ", ".join(str(u) for u in users) + "]::bigint[]"
    table, object_type = {
        "debtor": ("b_debtor", "debtors.debtor"),
        "debtor_page": ("b_debtor", "debtors.debtor"),
        "debt": ("b_debt", "debtors.debt"),
        "entry": ("b_entry", "debtors.ledgerentry"),
        "none": ("", ""),
    }[obj]
    join = f"JOIN {table} x ON x.n = floor({_u(salt * 10 + 1, 'g')} * {sizes[table]})::bigint" if table else ""
    if obj == "debtor":
        metadata = f"""'{{"fields": {REVEAL_FIELDS}, "purpose": "{"api detail" if actor == "api" else "agent reveal on debt page"}"}}'::jsonb"""
    elif obj == "debtor_page":
        metadata = (
            "jsonb_build_object('ids', (SELECT jsonb_agg(p.id::text ORDER BY p.n) FROM b_debtor p "
            f"WHERE p.n BETWEEN x.n AND x.n + 4), 'fields', '{REVEAL_FIELDS}'::jsonb, 'purpose', 'api list')"
        )
    elif obj == "debt":
        metadata = """'{"from": "active", "to": "promise"}'::jsonb"""
    elif obj == "entry":
        metadata = """'{"amount_minor": 50000, "method": "upi"}'::jsonb"""
    else:
        metadata = "'{}'::jsonb"
    seq = f"{offset} + g"
    exprs = {
        "id": "nextval(pg_get_serial_sequence('audit_auditevent', 'id'))",
        "chain": f"'{chain}'",
        "seq": seq,
        "workspace_id": str(workspace_id),
        "created_at": f"timestamptz '{t_end.isoformat()}' - interval '1 second' "
        f"- {_u(salt * 10 + 2, 'g')} * interval '{SPAN_DAYS} days'",
        "action": f"'{action}'",
        "actor_user_id": f"({user_array})[1 + floor({_u(salt * 10 + 3, 'g')} * {len(users)})::int]"
        if actor == "user"
        else "NULL",
        "actor_api_key_id": f"'{api_key_id}'" if actor == "api" else "''",
        "object_type": f"'{object_type}'",
        "object_id": "x.id::text" if obj in ("debtor", "debt", "entry") else "''",
        "ip": "NULL" if actor == "system" else "('10.20.' || (g % 200) || '.' || (g % 250 + 1))::inet",
        "user_agent": {"system": "''", "api": "'collectpro-client/1.4'"}.get(
            actor, "'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0'"
        ),
        "request_id": f"to_hex(hashint8extended(g, {salt}))",
        "source": {"system": "'task'", "api": "'api'"}.get(actor, "'web'"),
        "metadata": metadata,
        "prev_hash": f"lpad(to_hex({seq} - 1), 64, '0')",
        "hash": f"lpad(to_hex({seq}), 64, '0')",
    }
    return exprs, join


# --- The plain SQL ---------------------------------------------------------------------------

_REACHED = """
SELECT DISTINCT p.id FROM (
    SELECT ev.object_id::uuid AS debtor_id FROM ev WHERE ev.object_type = 'debtors.debtor' AND ev.object_id <> ''
    UNION ALL
    SELECT jsonb_array_elements_text(ev.metadata -> 'ids')::uuid FROM ev
     WHERE ev.object_type = 'debtors.debtor' AND ev.metadata ? 'ids'
    UNION ALL
    SELECT d.debtor_id FROM ev JOIN debtors_debt d ON d.id = ev.object_id::uuid AND d.workspace_id = %(ws)s
     WHERE ev.object_type = 'debtors.debt'
    UNION ALL
    SELECT d.debtor_id FROM ev JOIN debtors_ledgerentry l ON l.id = ev.object_id::uuid AND l.workspace_id = %(ws)s
      JOIN debtors_debt d ON d.id = l.debt_id
     WHERE ev.object_type = 'debtors.ledgerentry'
) reached JOIN debtors_debtor p ON p.id = reached.debtor_id AND p.workspace_id = %(ws)s
"""
_EV_COLUMNS = "SELECT object_type, object_id, metadata FROM audit_auditevent"
SQL_USER_WEEK = (
    f"WITH ev AS ({_EV_COLUMNS} WHERE workspace_id = %(ws)s AND actor_user_id = %(user)s "
    f"AND created_at >= %(start)s AND created_at < %(end)s){_REACHED}"
)
SQL_KEY_WEEK = (
    f"WITH ev AS ({_EV_COLUMNS} WHERE workspace_id = %(ws)s AND actor_api_key_id = %(key)s "
    f"AND created_at >= %(start)s AND created_at < %(end)s){_REACHED}"
)
SQL_EXPORT = (
    f"WITH e AS (SELECT chain, seq, (metadata ->> 'parts')::int AS parts FROM audit_auditevent WHERE id = %(export)s), "
    f"ev AS ({_EV_COLUMNS} a JOIN e ON a.chain = e.chain AND a.seq > e.seq AND a.seq <= e.seq + e.parts "
    f"WHERE a.workspace_id = %(ws)s AND a.action = 'personal_data.export'){_REACHED}"
).replace(f"{_EV_COLUMNS} a", "SELECT a.object_type, a.object_id, a.metadata FROM audit_auditevent a")
SQL_WORKSPACE = "SELECT id FROM debtors_debtor WHERE workspace_id = %(ws)s"


def _sql_rows(sql: str, params: dict[str, Any]) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


# --- Measuring ---------------------------------------------------------------------------------


@dataclass
class Pair:
    name: str
    sql: Callable[[], int]
    finder: Callable[[], Any]
    sql_s: list[float]
    finder_s: list[float]
    people: int = 0
    sql_people: int = 0
    events: int = 0


def _time(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def measure(seeded: Seeded, repeats: int, *, index_experiment: bool = False) -> list[Row]:
    from incidents.finder import Scope, ScopeKind, affected_find
    from kernel.tenancy import workspace_context

    ws = seeded.workspace
    start, end = seeded.t_end - WEEK, seeded.t_end + timedelta(seconds=1)
    params = {
        "ws": ws.pk,
        "user": seeded.user_id,
        "key": seeded.api_key_id,
        "export": seeded.export_id,
        "start": start,
        "end": end,
    }

    def find(scope: Any) -> Callable[[], Any]:
        return lambda: affected_find(workspace=ws, scope=scope, start=start, end=end)

    def sql(statement: str) -> Callable[[], int]:
        return lambda: _sql_rows(statement, params)

    pairs = [
        Pair("one user's week", sql(SQL_USER_WEEK), find(Scope(ScopeKind.USER, user_id=seeded.user_id)), [], []),
        Pair(
            "one API key's week",
            sql(SQL_KEY_WEEK),
            find(Scope(ScopeKind.API_KEY, api_key_id=seeded.api_key_id)),
            [],
            [],
        ),
        Pair(
            f"one export ({EXPORT_ROWS:,} debts)",
            sql(SQL_EXPORT),
            find(Scope(ScopeKind.EXPORT, export_id=seeded.export_id)),
            [],
            [],
        ),
        Pair("the whole workspace", sql(SQL_WORKSPACE), find(Scope(ScopeKind.WORKSPACE)), [], []),
    ]
    with workspace_context(ws):
        for pair in pairs:  # warm-up: caches, plans, the registry
            pair.sql()
            pair.finder()
        for i in range(repeats):
            for pair in pairs:
                order = (pair.sql, pair.finder) if i % 2 == 0 else (pair.finder, pair.sql)
                for call in order:
                    seconds, result = _time(call)
                    if call is pair.sql:
                        pair.sql_s.append(seconds)
                        pair.sql_people = result
                    else:
                        pair.finder_s.append(seconds)
                        pair.people, pair.events = result.total, result.events
        freeze = _measure_freeze(seeded, pairs[0].finder(), repeats)
        experiment = _index_experiment(pairs[1], repeats) if index_experiment else None
    return _rows(seeded, pairs, freeze, experiment)


def _measure_freeze(seeded: Seeded, result: Any, repeats: int) -> tuple[list[float], list[float], int]:
    """``affected_freeze`` of the user's week on a new incident, against a plain INSERT …
    SELECT of the same rows; each in a transaction that is rolled back."""
    from django.db import transaction
    from django.utils import timezone

    from incidents.finder_freeze import affected_freeze
    from incidents.services import IncidentInput, incident_create

    class _Rollback(Exception):
        pass

    ids = [str(pk) for pk in result.people]
    freeze_s: list[float] = []
    plain_s: list[float] = []
    for _ in range(repeats):
        for plain in (True, False):
            try:
                with transaction.atomic():
                    incident = incident_create(
                        workspace=seeded.workspace,
                        data=IncidentInput(
                            title="Bench", what_happened="An agent's laptop was stolen.", aware_at=timezone.now()
                        ),
                    )
                    started = time.perf_counter()
                    if plain:
                        _plain_insert(incident, ids)
                        plain_s.append(time.perf_counter() - started)
                    else:
                        affected_freeze(incident=incident, result=result)
                        freeze_s.append(time.perf_counter() - started)
                    raise _Rollback
            except _Rollback:
                pass
    return plain_s, freeze_s, len(ids)


def _plain_insert(incident: Any, ids: list[str]) -> int:
    return _execute(
        "INSERT INTO incidents_affectedperson (id, workspace_id, incident_id, debtor_id, categories, found_via, "
        "notice_status, notice_claimed_at, notified_at, communication_id, channel) "
        "SELECT gen_random_uuid(), %s, %s, d::uuid, '[\"identity\"]'::jsonb, 'read', 'pending', NULL, NULL, NULL, '' "
        "FROM unnest(%s::text[]) AS d",
        [incident.workspace_id, incident.pk, ids],
    )


def _index_experiment(pair: Pair, repeats: int) -> list[float]:
    """The API key's week again, with an index the trail does not have (rolled back)."""
    from django.db import transaction

    class _Rollback(Exception):
        pass

    timings: list[float] = []
    try:
        with transaction.atomic():
            _execute(
                "CREATE INDEX bench_audit_key ON audit_auditevent (workspace_id, actor_api_key_id, created_at DESC)"
            )
            _execute("ANALYZE audit_auditevent")
            pair.finder()
            for _ in range(repeats):
                timings.append(_time(pair.finder)[0])
            raise _Rollback
    except _Rollback:
        pass
    return timings


def _rows(
    seeded: Seeded,
    pairs: list[Pair],
    freeze: tuple[list[float], list[float], int],
    experiment: list[float] | None,
) -> list[Row]:
    scale = f"{seeded.debts:,} debts, {seeded.events:,} audit events"
    rows = []
    for i, pair in enumerate(pairs):
        sql_s, finder_s = statistics.median(pair.sql_s), statistics.median(pair.finder_s)
        ratios = [s / f for s, f in zip(pair.sql_s, pair.finder_s, strict=True)]
        rows.append(
            Row(
                f"baseline: plain SQL, {pair.name}",
                1 / sql_s,
                "ops/s",
                1 / sql_s,
                1.0,
                f"{sql_s * 1000:,.0f} ms; {pair.sql_people:,} debtors",
            )
        )
        target = ""
        if i == 0:
            target = f"; target ≤ {TARGET_SECONDS:.0f} s {'met' if finder_s <= TARGET_SECONDS else 'NOT met'}"
        rows.append(
            Row(
                f"affected_find: {pair.name}",
                1 / finder_s,
                "ops/s",
                1 / sql_s,
                statistics.median(ratios),
                f"median {finder_s * 1000:,.0f} ms ({min(pair.finder_s) * 1000:,.0f}–"
                f"{max(pair.finder_s) * 1000:,.0f}){target}; {pair.people:,} people from {pair.events:,} events; "
                f"{scale}",
            )
        )
    plain_s, freeze_s, people = freeze
    plain, frozen = statistics.median(plain_s), statistics.median(freeze_s)
    rows.append(
        Row(
            "baseline: INSERT … SELECT of the user's week into affected people",
            people / plain,
            "rows/s",
            people / plain,
            1.0,
            f"{plain * 1000:,.0f} ms for {people:,} rows; rolled back",
        )
    )
    rows.append(
        Row(
            "affected_freeze: the user's week on a new incident",
            people / frozen,
            "rows/s",
            people / plain,
            plain / frozen,
            f"median {frozen * 1000:,.0f} ms for {people:,} rows (batches of 2,000, counts, history, audit, "
            "client duties); rolled back",
        )
    )
    if experiment:
        sql_s = statistics.median(pairs[1].sql_s)
        with_index = statistics.median(experiment)
        rows.append(
            Row(
                "affected_find: one API key's week, with an index on (workspace, actor_api_key_id, created_at)",
                1 / with_index,
                "ops/s",
                1 / sql_s,
                sql_s / with_index,
                f"median {with_index * 1000:,.0f} ms; index created in the run and rolled back",
            )
        )
    return rows


def run(quick: bool) -> list[Row]:
    return measure(ensure(quick), QUICK_REPEATS if quick else REPEATS)


def main(argv: list[str]) -> int:
    """``python -m bench.incidents [--quick] [--index-experiment]``: printed, not written."""
    parser = argparse.ArgumentParser(prog="python -m bench.incidents", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the 50,000-debt workspace and 500,000 events")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--index-experiment", action="store_true", help="also time the API key's week with an index")
    parser.add_argument("--any-database", action="store_true", help='allow a DATABASE_URL whose name lacks "bench"')
    args = parser.parse_args(argv)

    from bench.__main__ import configure_environment, describe_database, print_table, setup_django

    if configure_environment(args) is not None:
        sys.exit("bench.incidents seeds with PostgreSQL-only SQL: set DATABASE_URL to a PostgreSQL *bench* database.")
    setup_django(None)
    print(f"database: {describe_database(throwaway=False)[1]}")
    seeded = ensure(args.quick)
    started = time.perf_counter()
    repeats = args.repeats or (QUICK_REPEATS if args.quick else REPEATS)
    rows = measure(seeded, repeats, index_experiment=args.index_experiment)
    print_table(f"incidents ({time.perf_counter() - started:.1f} s)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
