"""Seed one workspace with 1,000,000 debts on PostgreSQL, once; later runs reuse it.

Used by ``bench/api_list.py`` and ``bench/pages.py`` (through ``ensure``); run on its own
with ``python -m bench seed_million`` to seed (or to see that it is already seeded).

What is made, all in **one transaction** (an interrupted seed leaves nothing behind, so
"the workspace exists" is the marker that the seed is complete):

* through the services, as the app does: the owner and the workspace
  (``accounts.services.workspace_create``), 3 clients (``accounts.services.
  client_create``) and 5 agents (``accounts.services.membership_add``);
* 20,000 debtors built in Python with real encryption and blind indexes:
  ``keyring.subject_keys_bulk_create`` then ``Debtor.objects.bulk_create`` inside
  ``workspace_context``, batches of 1,000 (the placement import's path). Their emails are
  ``debtorNNNNN@bench.example.in`` (``debtor_email``), so a benchmark can search for one
  without decrypting anything;
* 1,000,000 debts with one set-based ``INSERT … SELECT`` over ``generate_series``: ids
  are UUIDv7 made in SQL from ``gen_random_uuid()`` and the placement time (as the model's
  ``uuid7`` default would have made them), placements spread evenly over two years, and
  pseudo-random but reproducible status, amounts, due dates, priority, client, debtor
  and agent (``hashint8extended(n, salt)``, not ``random()``);
* the ledger, also set-based: one CHARGE per debt for the original amount; about 200,000
  PAYMENTs in the last 60 days on open debts; a closing PAYMENT (paid) or PAYMENT +
  ADJUSTMENT (settled) on finished debts. Every debt's ``balance_minor`` is computed from
  the same plan, so it equals the sum of its ledger (checked with one query at the end),
  and ``last_payment_at`` is its latest payment;
* about 80,000 promises to pay (pending on debts in status ``promise``; kept or broken
  on others), so the dashboard has data;

then ``VACUUM (ANALYZE)`` on the filled tables, as autovacuum would eventually do.

Debts, ledger and promises are loaded the bulk-load way (``_bulk_load``): the indexes that
back no constraint and the foreign keys are dropped, the rows inserted, the indexes
recreated from ``pg_get_indexdef`` and the foreign keys added back from
``pg_get_constraintdef`` (PostgreSQL validates them in one pass), all inside the seed's
transaction. Foreign keys are set ``IMMEDIATE`` for the transaction (Django makes them
``DEFERRABLE INITIALLY DEFERRED``), so each phase's time includes its checks.

Column lists come from the models' ``_meta`` and are checked against the table in the
database (``connection.introspection``): a column this module does not know how to fill
and that has no constant default stops the seed with an error instead of guessing.

Timings: each phase's rate (rows/s) is reported against a baseline measured in the same
run: the same 1,000,000 debt rows ``INSERT … SELECT``-ed into a bare table (``LIKE
debtors_debt``: no index, constraint or foreign key), created and dropped in the seed's
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import Row

VENDORS = ("postgresql",)
RUN_MODE = "one seeding per database; each phase's rate against a bare INSERT … SELECT of the same debt rows"

SEED_VERSION = 1  # bump when the data changes shape: a new workspace slug is seeded

# Statuses with cumulative probabilities (a collection agency's book: mostly open).
STATUS_MIX: tuple[tuple[str, float], ...] = (
    ("active", 0.40),
    ("new", 0.48),
    ("promise", 0.53),
    ("payment_plan", 0.58),
    ("disputed", 0.60),
    ("on_hold", 0.63),
    ("paid", 0.78),
    ("settled", 0.83),
    ("written_off", 0.91),
    ("recalled", 0.94),
    ("closed", 1.00),
)
PAYING = ("active", "new", "promise", "payment_plan")  # may have recent payments
RECENT_PAYMENT_SHARE = 0.345  # of PAYING debts (58%): about 200,000 payments per million
RECENT_DAYS = 60
PLACEMENT_DAYS = 730
PRODUCTS = ("Personal loan", "Credit card", "Consumer durable loan", "Two-wheeler loan", "Gold loan")
METHODS = ("upi", "bank_transfer", "card", "cash", "cheque")
CLIENTS: tuple[tuple[str, str, int], ...] = (
    ("Axis Retail Lending", "AXIS", 1500),
    ("Bharat Consumer Finance", "BCF", 1200),
    ("Coastal Credit Co-op", "CCC", 1800),
)
CLIENT_SHARES = (0.6, 0.9)  # cumulative: 60 % / 30 % / 10 % of debts
N_AGENTS = 5
ASSIGNED_SHARE = 0.8
DEBTOR_BATCH = 1000

FIRST = (
    "Priya",
    "Rahul",
    "Ananya",
    "Vikram",
    "Sneha",
    "Arjun",
    "Kavya",
    "Rohan",
    "Meera",
    "Aditya",
    "Lakshmi",
    "Imran",
)
LAST = ("Venkataraman", "Sharma", "Iyer", "Reddy", "Nair", "Gupta", "Khan", "Patel", "Das", "Menon", "Joshi", "Rao")
CITIES = ("Bengaluru 560001", "Chennai 600002", "Mumbai 400001", "Pune 411001", "Kochi 682011", "Hyderabad 500001")


@dataclass(frozen=True)
class Scale:
    label: str
    debts: int
    debtors: int

    @property
    def slug(self) -> str:
        return f"bench-{self.label}-v{SEED_VERSION}"


FULL = Scale("1m", 1_000_000, 20_000)
QUICK = Scale("50k", 50_000, 1_000)  # --quick: a small workspace, for smoke tests


def scale_for(quick: bool) -> Scale:
    return QUICK if quick else FULL


@dataclass
class Seeded:
    workspace: Any
    owner: Any
    agents: list[Any]
    clients: list[Any]
    scale: Scale
    created: bool
    phases: list[tuple[str, int, float, str]] = field(default_factory=list)  # name, rows, seconds, notes
    baseline: tuple[int, float] | None = None  # rows, seconds
    seconds: float = 0.0

    @property
    def debt_count(self) -> int:
        return self.scale.debts


def debtor_email(i: int) -> str:
    """The (plaintext) email of debtor number ``i`` (1-based)."""
    return f"debtor{i:05d}@bench.example.in"


def _owner_email(scale: Scale) -> str:
    return f"owner+{scale.slug}@bench.example.com"


def _agent_email(scale: Scale, i: int) -> str:
    return f"agent{i}+{scale.slug}@bench.example.com"


# --- Reuse ------------------------------------------------------------------------


def find(scale: Scale) -> Seeded | None:
    """The seeded workspace, or None. Raises if it exists but does not hold what a
    complete seed of this scale holds (which the single transaction should prevent)."""
    from accounts.models import Client, Membership, Workspace
    from accounts.roles import Role
    from debtors.models import Debt

    workspace = Workspace.objects.filter(slug=scale.slug).first()
    if workspace is None:
        return None
    members = list(Membership.objects.for_workspace(workspace).select_related("user").order_by("user__email"))
    owner = next(m.user for m in members if m.role == Role.OWNER)
    agents = [m.user for m in members if m.role == Role.AGENT]
    clients = list(Client.objects.for_workspace(workspace).order_by("reference"))
    debts = Debt.objects.for_workspace(workspace).count()
    if debts != scale.debts or len(agents) != N_AGENTS or len(clients) != len(CLIENTS):
        raise RuntimeError(
            f"workspace {scale.slug} holds {debts} debts, {len(agents)} agents, {len(clients)} clients; expected "
            f"{scale.debts}, {N_AGENTS}, {len(CLIENTS)}. Drop the database (or bump SEED_VERSION) and seed again."
        )
    return Seeded(workspace=workspace, owner=owner, agents=agents, clients=clients, scale=scale, created=False)


def ensure(scale: Scale, *, verbose: bool = True) -> Seeded:
    """Reuse the seeded workspace of this scale, or seed it (minutes for 1,000,000)."""
    found = find(scale)
    if found is not None:
        if verbose:
            print(f"seed: reusing workspace {scale.slug} ({scale.debts:,} debts)")
        return found
    return seed(scale, verbose=verbose)


# --- SQL helpers ------------------------------------------------------------------


def _u(salt: int, n: str = "n") -> str:
    """A reproducible uniform number in [0, 1) for row ``n`` (53 bits of a 64-bit hash)."""
    return f"((hashint8extended({n}::bigint, {salt}) & 9007199254740991)::float8 / 9007199254740992.0)"


def _uuid7(ts: str) -> str:
    """A UUIDv7 whose time is ``ts`` (a timestamptz expression), from gen_random_uuid():
    the first 48 bits become the Unix time in ms, the version nibble becomes 7."""
    return (
        "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
        f"substring(int8send(floor(extract(epoch from {ts}) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), "
        "'hex')::uuid"
    )


def _pick(u: str, choices: tuple[str, ...]) -> str:
    """SQL for one of ``choices`` (text literals), chosen by the uniform ``u``."""
    array = "ARRAY[" + ", ".join(f"'{c}'" for c in choices) + "]"
    return f"({array})[1 + floor({u} * {len(choices)})::int]"


def _literal(value: Any) -> str:
    """A SQL literal for a constant default (only simple types)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def insert_select_sql(model: Any, exprs: dict[str, str], source: str) -> str:
    """``INSERT INTO <table> (<every concrete column>) SELECT <expr for each> FROM source``.

    ``exprs`` maps column names to SQL expressions. Every key must be a column of the
    model; every column must have an expression, or a constant default (NULL for a
    nullable column without one), or the seed stops: a new column is never guessed."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED

    meta = model._meta
    fields = list(meta.concrete_fields)
    columns = [f.column for f in fields]
    unknown = set(exprs) - set(columns)
    if unknown:
        raise RuntimeError(f"{meta.label}: no such column(s) {sorted(unknown)}; update bench/seed_million.py")
    with connection.cursor() as cursor:
        in_db = {c.name for c in connection.introspection.get_table_description(cursor, meta.db_table)}
    if set(columns) != in_db:
        raise RuntimeError(
            f"{meta.db_table}: model columns {sorted(set(columns) - in_db)} / table columns "
            f"{sorted(in_db - set(columns))} differ; run migrate"
        )
    select = []
    for f in fields:
        if f.column in exprs:
            select.append(exprs[f.column])
            continue
        default = f.default
        if default is NOT_PROVIDED:
            if not f.null:
                raise RuntimeError(f"{meta.label}.{f.name}: no value and no default; update bench/seed_million.py")
            default = None
        if callable(default):
            raise RuntimeError(
                f"{meta.label}.{f.name}: callable default; give it an expression in bench/seed_million.py"
            )
        select.append(_literal(f.get_db_prep_save(default, connection) if default is not None else None))
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    return f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({cols}) SELECT {', '.join(select)} FROM {source}"


# --- Seeding ----------------------------------------------------------------------


class _Clock:
    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.phases: list[tuple[str, int, float, str]] = []
        self.started = time.perf_counter()

    @contextmanager
    def phase(self, name: str, notes: str = "") -> Iterator[list[int]]:
        rows = [0]
        if self.verbose:
            print(f"seed: {name} …", flush=True)
        start = time.perf_counter()
        yield rows
        seconds = time.perf_counter() - start
        self.phases.append((name, rows[0], seconds, notes))
        if self.verbose:
            rate = f", {rows[0] / seconds:,.0f} rows/s" if rows[0] and seconds > 0 else ""
            print(f"seed: {name}: {rows[0]:,} rows in {seconds:.1f} s{rate}", flush=True)


def _execute(sql: str, params: list[Any] | None = None) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


@contextmanager
def _bulk_load(table: str) -> Iterator[None]:
    """The bulk-load idiom, inside the seed's transaction: drop the table's indexes that
    back no constraint and its foreign keys, let the block fill the table, then create
    the indexes again from their exact definitions (``pg_get_indexdef``) and add the
    foreign keys back (``pg_get_constraintdef``), which makes PostgreSQL validate every
    row with one join instead of a trigger per row. The primary key and unique
    constraints stay and are checked row by row. A failure rolls all of it back."""
    from django.db import connection

    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname",
            [table],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        foreign_keys = cursor.fetchall()
        for name, _definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {qn(name)}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")


def _debtors(workspace: Any, scale: Scale, rows: list[int]) -> None:
    from debtors.models import Debtor
    from kernel.crypto import keyring
    from kernel.models import uuid7

    today = date(2026, 1, 1)
    for start in range(1, scale.debtors + 1, DEBTOR_BATCH):
        batch = []
        for i in range(start, min(scale.debtors, start + DEBTOR_BATCH - 1) + 1):
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
            born = today - timedelta(days=365 * 22 + (i * 97) % (365 * 45))
            batch.append(
                Debtor(
                    id=uuid7(),
                    workspace=workspace,
                    full_name=f"{first} {last} {i:05d}",
                    email=debtor_email(i),
                    phone=f"+919{(i * 7919) % 1_000_000_000:09d}",
                    address=f"{i % 300 + 1}, {('MG Road', 'Residency Road', 'Park Street', 'Anna Salai')[i % 4]}, "
                    f"{CITIES[i % len(CITIES)]}",
                    date_of_birth=born.isoformat(),
                    national_id=f"{'ABCDEFGHJK'[i % 10]}{'PQRSTUVWXY'[(i // 10) % 10]}CPK{i:04d}{'ZYXWV'[i % 5]}",
                    external_ref=f"CUST-{i:05d}",
                    preferred_language=("en", "hi")[i % 2],
                    timezone="Asia/Kolkata",
                )
            )
        # As a placement import does: every new debtor's data key in one INSERT, cached,
        # so encrypting the batch needs no further query.
        keyring.subject_keys_bulk_create(workspace.pk, "debtor", [str(d.pk) for d in batch])
        Debtor.objects.bulk_create(batch)
        rows[0] += len(batch)


def _plan_sql(scale: Scale, now: datetime) -> str:
    """The temp table ``seed_plan``: one row per debt with everything the debt, its
    ledger and its promises are made from."""
    start = now - timedelta(days=PLACEMENT_DAYS)
    step_us = int(PLACEMENT_DAYS * 86_400_000_000 / scale.debts)
    status = "CASE " + " ".join(f"WHEN u_status < {p} THEN '{s}'" for s, p in STATUS_MIX[:-1])
    status += f" ELSE '{STATUS_MIX[-1][0]}' END"
    paying = ", ".join(f"'{s}'" for s in PAYING)
    return f"""
CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
WITH base AS (
    SELECT n,
        timestamptz '{start.isoformat()}' + (n - 1) * interval '{step_us} microseconds' AS created_at,
        {_u(1)} AS u_status, {_u(2)} AS u_amount, {_u(3)} AS u_due, {_u(4)} AS u_agent,
        {_u(5)} AS u_client, {_u(6)} AS u_debtor, {_u(7)} AS u_prio, {_u(8)} AS u_pay,
        {_u(9)} AS u_pay_at, {_u(10)} AS u_contact, {_u(11)} AS u_closed, {_u(12)} AS u_promise,
        {_u(13)} AS u_misc
    FROM generate_series(1, {scale.debts}) AS n
), shaped AS (
    SELECT *,
        {status} AS status,
        (50000 + floor(power(u_amount, 3) * 49950000))::bigint AS original
    FROM base
), paid AS (
    SELECT *,
        CASE WHEN status IN ({paying}) AND u_pay < {RECENT_PAYMENT_SHARE}
             THEN greatest(100, floor(original * (0.05 + 0.30 * u_misc)))::bigint END AS pay,
        -- a moment in the last {RECENT_DAYS} days, never before the placement
        greatest(created_at + interval '1 hour',
                 timestamptz '{now.isoformat()}' - u_pay_at * interval '{RECENT_DAYS} days') AS pay_at,
        created_at + (timestamptz '{now.isoformat()}' - created_at) * (0.2 + 0.79 * u_closed) AS closed_at
    FROM shaped
)
SELECT n, {_uuid7("created_at")} AS id, created_at, status, original,
    CASE WHEN pay_at > timestamptz '{now.isoformat()}' THEN NULL ELSE pay END AS pay,
    pay_at, closed_at,
    CASE status WHEN 'paid' THEN original WHEN 'settled' THEN (original * 6 / 10) END AS close_pay,
    CASE status WHEN 'settled' THEN original - (original * 6 / 10) END AS close_adj,
    u_due, u_agent, u_client, u_debtor, u_prio, u_contact, u_promise, u_misc
FROM paid
"""


def seed(scale: Scale, *, verbose: bool = True) -> Seeded:
    from django.db import connection, transaction

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import client_create, membership_add, workspace_create
    from debtors.models import Debt, LedgerEntry, PromiseToPay
    from kernel.tenancy import workspace_context

    clock = _Clock(verbose)
    now = datetime.now(UTC).replace(microsecond=0)
    q = connection.ops.quote_name
    debt_table, ledger_table = q(Debt._meta.db_table), q(LedgerEntry._meta.db_table)
    baseline: tuple[int, float] | None = None
    with transaction.atomic():
        _execute("SET LOCAL work_mem = '64MB'")
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: checked at COMMIT. Check
        # them at the end of each statement instead, so each phase's time includes its
        # checks (and indexes can be rebuilt, which pending trigger events forbid).
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
        with clock.phase("workspace, 3 clients, 5 agents (services)") as rows:
            owner = User.objects.create_user(email=_owner_email(scale), password=None, full_name="Bench Owner")
            workspace = workspace_create(
                slug=scale.slug,
                name=f"Benchmark {scale.label} (seed v{SEED_VERSION})",
                owner_email=owner.email,
                owner_password=None,
            )
            with workspace_context(workspace, user_id=owner.pk):
                clients = [
                    client_create(workspace=workspace, name=name, reference=ref, commission_rate_bps=bps)
                    for name, ref, bps in CLIENTS
                ]
                agents = []
                for i in range(1, N_AGENTS + 1):
                    agent = User.objects.create_user(
                        email=_agent_email(scale, i), password=None, full_name=f"Agent {i}"
                    )
                    membership_add(workspace=workspace, user=agent, role=Role.AGENT, actor=owner)
                    agents.append(agent)
            rows[0] = 1 + len(clients) + len(agents)

        with workspace_context(workspace, user_id=owner.pk):
            with clock.phase(
                f"{scale.debtors:,} debtors (Python: encrypt + blind-index, bulk_create)",
                "subject keys in bulk, 6 encrypted fields + 4 blind indexes per row",
            ) as rows:
                _debtors(workspace, scale, rows)

            with clock.phase("plan: one temp row per debt (generate_series)") as rows:
                rows[0] = _execute(_plan_sql(scale, now))
                _execute(
                    "CREATE TEMP TABLE seed_debtor ON COMMIT DROP AS "
                    "SELECT row_number() OVER (ORDER BY external_ref) AS idx, id FROM debtors_debtor "
                    "WHERE workspace_id = %s",
                    [workspace.pk],
                )
                _execute("CREATE UNIQUE INDEX ON seed_debtor (idx)")
                _execute("ANALYZE seed_plan")
                _execute("ANALYZE seed_debtor")

            agent_ids = "ARRAY[" + ", ".join(str(a.pk) for a in agents) + "]::bigint[]"
            client_ids = [
                str(c.pk) for c in sorted(clients, key=lambda c: [r for _, r, _ in CLIENTS].index(c.reference))
            ]
            today = now.date()
            debt_exprs = {
                "id": "p.id",
                "workspace_id": str(workspace.pk),
                "client_id": f"(CASE WHEN p.u_client < {CLIENT_SHARES[0]} THEN '{client_ids[0]}' "
                f"WHEN p.u_client < {CLIENT_SHARES[1]} THEN '{client_ids[1]}' ELSE '{client_ids[2]}' END)::uuid",
                "debtor_id": "d.id",
                "reference": "'L' || lpad(p.n::text, 8, '0')",
                "original_creditor": "''",
                "product": _pick("p.u_misc", PRODUCTS),
                "currency": _literal(workspace.currency),
                "original_amount_minor": "p.original",
                "balance_minor": "CASE WHEN p.status IN ('paid', 'settled') THEN 0 ELSE p.original - coalesce(p.pay, 0) END",
                "opened_on": "(p.created_at::date - (30 + floor(p.u_due * 900))::int)",
                "due_date": "CASE WHEN p.u_due < 0.03 THEN NULL "
                "ELSE p.created_at::date - 300 + floor(p.u_due * 345)::int END",
                "charge_off_date": "CASE WHEN p.status = 'written_off' THEN p.closed_at::date END",
                "status": "p.status",
                "status_before_hold": "CASE WHEN p.status = 'on_hold' THEN 'active' ELSE '' END",
                "assigned_agent_id": f"CASE WHEN p.u_agent < {ASSIGNED_SHARE} "
                f"THEN ({agent_ids})[1 + floor(p.u_agent / {ASSIGNED_SHARE} * {N_AGENTS})::int] END",
                "priority_score": "floor(p.u_prio * 1000)::int",
                "last_contact_at": f"CASE WHEN p.u_contact < 0.6 THEN greatest(p.created_at, "
                f"timestamptz '{now.isoformat()}' - p.u_contact / 0.6 * interval '120 days') END",
                "last_payment_at": "CASE WHEN p.status IN ('paid', 'settled') THEN p.closed_at "
                "WHEN p.pay IS NOT NULL THEN p.pay_at END",
                "created_at": "p.created_at",
                "updated_at": "greatest(p.created_at, CASE WHEN p.pay IS NOT NULL THEN p.pay_at END, "
                "CASE WHEN p.status IN ('paid', 'settled') THEN p.closed_at END)",
            }
            source = (
                f"seed_plan p JOIN seed_debtor d ON d.idx = 1 + floor(p.u_debtor * {scale.debtors})::int ORDER BY p.n"
            )
            debt_insert = insert_select_sql(Debt, debt_exprs, source)

            with clock.phase("baseline: the same debt rows into a bare copy (no index, constraint, FK)") as rows:
                _execute(f"CREATE TABLE bench_seed_bare (LIKE {debt_table})")
                rows[0] = _execute(debt_insert.replace(f"INSERT INTO {debt_table}", "INSERT INTO bench_seed_bare", 1))
                _execute("DROP TABLE bench_seed_bare")
            baseline = (rows[0], clock.phases[-1][2])

            with (
                clock.phase(
                    f"{scale.debts:,} debts (INSERT … SELECT)",
                    "PK and unique constraint checked per row; indexes rebuilt and 4 foreign keys validated after",
                ) as rows,
                _bulk_load(Debt._meta.db_table),
            ):
                rows[0] = _execute(debt_insert)

            base_entry = {
                "workspace_id": str(workspace.pk),
                "debt_id": "p.id",
                "currency": _literal(workspace.currency),
                "external_id": "NULL",
                "reverses_id": "NULL",
                "created_by_id": "NULL",
            }
            entries = [
                (  # the opening charge of every debt
                    "charges",
                    {
                        **base_entry,
                        "id": _uuid7("p.created_at"),
                        "kind": "'charge'",
                        "amount_minor": "p.original",
                        "effective_on": "p.created_at::date",
                        "posted_at": "p.created_at",
                        "memo": "'Placed balance'",
                    },
                    "TRUE",
                ),
                (
                    "recent payments",
                    {
                        **base_entry,
                        "id": _uuid7("p.pay_at"),
                        "kind": "'payment'",
                        "amount_minor": "-p.pay",
                        "effective_on": "p.pay_at::date",
                        "posted_at": "p.pay_at",
                        "method": _pick("p.u_contact", METHODS),
                        "reference": "'UTR' || p.n",
                    },
                    "p.pay IS NOT NULL",
                ),
                (
                    "closing payments",
                    {
                        **base_entry,
                        "id": _uuid7("p.closed_at"),
                        "kind": "'payment'",
                        "amount_minor": "-p.close_pay",
                        "effective_on": "p.closed_at::date",
                        "posted_at": "p.closed_at",
                        "method": "'bank_transfer'",
                        "reference": "'CLOSE' || p.n",
                    },
                    "p.close_pay IS NOT NULL",
                ),
                (
                    "settlement adjustments",
                    {
                        **base_entry,
                        "id": _uuid7("p.closed_at + interval '1 second'"),
                        "kind": "'adjustment'",
                        "amount_minor": "-p.close_adj",
                        "effective_on": "p.closed_at::date",
                        "posted_at": "p.closed_at + interval '1 second'",
                        "memo": "'Settlement discount'",
                    },
                    "p.close_adj IS NOT NULL AND p.close_adj <> 0",
                ),
            ]
            with (
                clock.phase(
                    "ledger entries (INSERT … SELECT)",
                    "charges, recent and closing payments, adjustments; indexes and foreign keys as for debts",
                ) as rows,
                _bulk_load(LedgerEntry._meta.db_table),
            ):
                for _name, exprs, where in entries:
                    sql = insert_select_sql(LedgerEntry, exprs, f"seed_plan p WHERE {where} ORDER BY p.n")
                    rows[0] += _execute(sql)

            promise_exprs = {
                "id": _uuid7("p.pay_at - interval '20 days'"),
                "workspace_id": str(workspace.pk),
                "debt_id": "p.id",
                "amount_minor": "greatest(100, p.original / 5)",
                "due_on": f"least(date '{today.isoformat()}' + 14, (p.pay_at - interval '20 days')::date + 10)",
                "made_at": "greatest(p.created_at, p.pay_at - interval '20 days')",
                "status": "CASE WHEN p.status = 'promise' THEN 'pending' WHEN p.pay IS NOT NULL "
                "OR p.status = 'paid' THEN 'kept' WHEN p.u_promise < 0.02 THEN 'cancelled' ELSE 'broken' END",
                "evaluated_at": "CASE WHEN p.status = 'promise' THEN NULL ELSE p.pay_at END",
                "created_by_id": f"({agent_ids})[1 + floor(p.u_agent * {N_AGENTS})::int]",
            }
            with (
                clock.phase("promises to pay (INSERT … SELECT)", "indexes and foreign keys as for debts") as rows,
                _bulk_load(PromiseToPay._meta.db_table),
            ):
                rows[0] = _execute(
                    insert_select_sql(
                        PromiseToPay,
                        promise_exprs,
                        "seed_plan p WHERE p.status = 'promise' OR (p.status IN ('active', 'payment_plan', 'paid') "
                        "AND p.u_promise < 0.05) ORDER BY p.n",
                    )
                )

            with clock.phase("check: balance = ledger sum for every debt") as rows:
                drift = _scalar(
                    f"SELECT count(*) FROM {debt_table} d JOIN (SELECT debt_id, sum(amount_minor) AS s "
                    f"FROM {ledger_table} WHERE workspace_id = %s GROUP BY debt_id) l ON l.debt_id = d.id "
                    "WHERE d.workspace_id = %s AND d.balance_minor <> l.s",
                    [workspace.pk, workspace.pk],
                )
                rows[0] = scale.debts
                if drift:
                    raise RuntimeError(f"{drift} debts' balance differs from their ledger sum")

    # VACUUM cannot run in a transaction; the seed is committed.
    with clock.phase("VACUUM (ANALYZE) of the filled tables") as rows:
        for model in (
            "debtors_debt",
            "debtors_ledgerentry",
            "debtors_debtor",
            "debtors_promisetopay",
            "collectpro_subjectkey",
        ):
            _execute(f"VACUUM (ANALYZE) {q(model)}")
    total = time.perf_counter() - clock.started
    if verbose:
        print(f"seed: workspace {scale.slug} seeded in {total:.1f} s", flush=True)
    return Seeded(
        workspace=workspace,
        owner=owner,
        agents=agents,
        clients=clients,
        scale=scale,
        created=True,
        phases=clock.phases,
        baseline=baseline,
        seconds=total,
    )


def _rows(seeded: Seeded) -> list[Row]:
    assert seeded.baseline is not None
    base_rows, base_seconds = seeded.baseline
    base_rate = base_rows / base_seconds
    out = [
        Row(
            f"baseline: INSERT … SELECT {base_rows:,} debt rows into a bare table",
            base_rate,
            "rows/s",
            base_rate,
            1.0,
            f"{base_seconds:.1f} s; LIKE debtors_debt, no index, constraint or foreign key",
        )
    ]
    for name, rows, seconds, notes in seeded.phases:
        if name.startswith("baseline") or not rows or seconds <= 0:
            continue
        rate = rows / seconds
        detail = f"{rows:,} rows in {seconds:.1f} s"
        out.append(Row(name, rate, "rows/s", base_rate, rate / base_rate, f"{detail}; {notes}" if notes else detail))
    out.append(
        Row(
            "whole seed, one transaction + VACUUM",
            seeded.scale.debts / seeded.seconds,
            "debts/s",
            base_rate,
            seeded.scale.debts / seeded.seconds / base_rate,
            f"{seeded.seconds:.0f} s in all",
        )
    )
    return out


def run(quick: bool) -> list[Row]:
    seeded = ensure(scale_for(quick))
    if not seeded.created:
        return []  # already seeded: nothing measured, the recorded figures stay
    return _rows(seeded)
