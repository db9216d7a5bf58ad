"""PostgreSQL row-level security, the second wall: even a query with no WHERE
clause, run as the application role, sees and writes only the current workspace."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from accounts.models import Client
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope
from kernel.tenancy.rls import POLICY, apply_rls

pytestmark = pytest.mark.postgres

TENANT_TABLES = ("debtors_debtor", "debtors_client", "accounts_apikey")
_SETTINGS = ("app.workspace_id", "app.user_id", "app.api_key_hash", "app.invitation_hash")


@pytest.fixture
def app_role(pg) -> str:
    """The RLS-bound role (.ci/run creates it). Created here, inside the test's
    transaction, on a server that lacks it; privileges are granted by apply_rls,
    which only grants to a role that existed at migrate time."""
    role = settings.TENANCY_APP_ROLE
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE ROLE {connection.ops.quote_name(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute("SELECT has_table_privilege(%s, 'debtors_debtor', 'SELECT')", [role])
        if not cursor.fetchone()[0]:
            apply_rls(connection)
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        assert cursor.fetchone() == (False, False), f"{role} must not bypass row-level security"
    return role


@contextmanager
def as_app(role: str, workspace_id: int | None = None) -> Iterator[Any]:
    """A transaction as the application role with only ``workspace_id`` set."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(_SETTINGS)),
            [
                v
                for key in _SETTINGS
                for v in (key, str(workspace_id) if key == "app.workspace_id" and workspace_id else "")
            ],
        )
        cursor.execute(f"SET LOCAL ROLE {connection.ops.quote_name(role)}")
        yield cursor
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT set_config('app.workspace_id', '', true)")


def _count(cursor, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
    return cursor.fetchone()[0]


@pytest.fixture
def rows(world):
    """Debtors, clients and API keys in both workspaces."""
    for ws in (world.a, world.b):
        with workspace_context(ws):
            debtor_create(workspace=ws, data=DebtorInput(full_name=f"Debtor of {ws.slug}"))
    return world


def test_every_table_with_a_workspace_column_has_rls_and_the_policy(pg):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity,
                   EXISTS (SELECT 1 FROM pg_policies p
                           WHERE p.schemaname = n.nspname AND p.tablename = c.relname AND p.policyname = %s)
            FROM information_schema.columns col
            JOIN pg_namespace n ON n.nspname = col.table_schema
            JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = col.table_name
            WHERE col.table_schema = current_schema() AND col.column_name = 'workspace_id' AND c.relkind = 'r'
            ORDER BY c.relname
            """,
            [POLICY],
        )
        tables = cursor.fetchall()
    assert len(tables) >= 10, tables  # the query really finds the tenant tables
    assert "debtors_debtor" in {t[0] for t in tables}
    offending = [name for name, rls, has_policy in tables if not (rls and has_policy)]
    assert offending == [], f"tables with workspace_id but no row-level security / {POLICY}: {offending}"


def test_with_no_workspace_set_the_app_role_sees_nothing(rows, app_role):
    with connection.cursor() as cursor:
        assert all(_count(cursor, t) >= 2 for t in TENANT_TABLES)  # the rows exist
    with as_app(app_role) as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
        assert {t: _count(cursor, t) for t in TENANT_TABLES} == dict.fromkeys(TENANT_TABLES, 0)


def test_with_workspace_a_set_only_a_rows_are_visible(rows, app_role):
    world = rows
    with as_app(app_role, world.a.pk) as cursor:
        for table in TENANT_TABLES:
            cursor.execute(f"SELECT DISTINCT workspace_id FROM {table}")  # noqa: S608
            assert [r[0] for r in cursor.fetchall()] == [world.a.pk], table
        # A "buggy query" with no WHERE clause.
        cursor.execute("SELECT * FROM debtors_client")
        columns = [c.name for c in cursor.description]
        clients = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        assert [c["reference"] for c in clients] == ["SAHYADRI"]
        # An UPDATE without WHERE touches only A's rows.
        cursor.execute("UPDATE debtors_client SET commission_rate_bps = 1")
        assert cursor.rowcount == 1
    with workspace_context(world.b):
        assert Client.objects.get().commission_rate_bps != 1


def test_db_scope_applies_the_same_wall(rows, app_role, settings):
    world = rows
    settings.TENANCY_DB_ROLE = app_role
    with db_scope(workspace_id=world.a.pk), connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role
        cursor.execute("SELECT reference FROM debtors_client ORDER BY reference")
        assert [r[0] for r in cursor.fetchall()] == ["SAHYADRI"]
        assert _count(cursor, "debtors_debtor") == 1
    with connection.cursor() as cursor:  # restored afterwards
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != app_role


def test_writing_a_row_into_another_workspace_is_refused(rows, app_role):
    world = rows
    insert = (
        "INSERT INTO debtors_client (id, workspace_id, name, reference, commission_rate_bps, created_at)"
        " VALUES (%s, %s, 'Smuggled', 'SMUGGLED', 0, now())"
    )
    with pytest.raises(DatabaseError, match="row-level security"), as_app(app_role, world.a.pk) as cursor:
        cursor.execute(insert, [uuid.uuid4(), world.b.pk])
    with pytest.raises(DatabaseError, match="row-level security"), as_app(app_role, world.a.pk):
        Client.unscoped.create(workspace=world.b, name="Smuggled", reference="SMUGGLED2")
    # Moving one of A's own rows into B.
    with pytest.raises(DatabaseError, match="row-level security"), as_app(app_role, world.a.pk) as cursor:
        cursor.execute("UPDATE debtors_client SET workspace_id = %s", [world.b.pk])
    # Into its own workspace the same statement works.
    with as_app(app_role, world.a.pk) as cursor:
        cursor.execute(insert, [uuid.uuid4(), world.a.pk])
        assert cursor.rowcount == 1
    with workspace_context(world.b):
        assert list(Client.objects.values_list("reference", flat=True)) == ["LSCU"]
