"""The layering moved six models between apps (ADR 0015) without moving a row.

A database filled by ``seed_demo`` is taken back to the migrations before the
moves and forward again: every table keeps every row, and a value encrypted by
the *old* model (bound to its old label) still decrypts through the new one.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Client, Workspace
from communications.log import communication_log
from communications.models import Communication
from debtors.models import Debt
from kernel.tenancy import workspace_context

pytestmark = pytest.mark.django_db(transaction=True)

# The last migration of each app before the models moved (and the new apps empty).
BEFORE_THE_MOVES = [
    ("accounts", "0002_initial"),
    ("debtors", "0009_communication_sending"),
    ("consent", "0003_visitorconsent"),
    ("communications", None),
    ("placements", None),
]
MOVED_TABLES = (
    "debtors_client",
    "debtors_communication",
    "consent_messagetemplate",
    "consent_sequence",
    "consent_debtsequence",
    "debtors_placementimport",
)


def _migrate(targets: list[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str | None]]:
    executor = MigrationExecutor(connection)
    return list(executor.loader.graph.leaf_nodes())


def _row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if not t.startswith("django_migrations")]
        counts = {}
        for table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (names from the catalogue)
            counts[table] = cursor.fetchone()[0]
    return counts


def test_migrations_move_models_between_apps_without_losing_a_row(capsys):
    call_command("seed_demo", "--accounts", "40")
    capsys.readouterr()
    workspace = Workspace.objects.get(slug="acme-collections")
    with workspace_context(workspace):
        debt = Debt.objects.order_by("reference").first()
        note = communication_log(debt=debt, channel="call", content="Spoke about a plan", check_rules=False)
    before = _row_counts()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM debtors_client WHERE workspace_id = %s", [workspace.pk])
        acme_clients = cursor.fetchone()[0]
    assert acme_clients == 2
    assert all(before[t] > 0 for t in ("debtors_client", "debtors_communication", "debtors_placementimport"))

    try:
        _migrate(BEFORE_THE_MOVES)
        # Going back moves nothing either (apps built after the moves lose their tables).
        back = _row_counts()
        assert set(MOVED_TABLES) <= set(back)
        assert back == {table: count for table, count in before.items() if table in back}
    finally:
        _migrate(_latest())

    assert _row_counts() == before
    with workspace_context(workspace):
        # Read through the moved model (scoped, and under row-level security on PostgreSQL).
        assert Client.objects.count() == acme_clients
        assert str(Communication.objects.get(pk=note.pk).content) == "Spoke about a plan"


def test_a_value_encrypted_by_the_old_model_decrypts_through_the_new_one():
    call_command("seed_demo", "--accounts", "0")
    # Loaded before going back: today's Workspace has columns the old schema lacks.
    workspace = Workspace.objects.get(slug="acme-collections")
    _migrate(BEFORE_THE_MOVES)
    try:
        old_state = (
            MigrationExecutor(connection).loader.project_state([t for t in BEFORE_THE_MOVES if t[1]], at_end=True).apps
        )
        OldClient = old_state.get_model("debtors", "Client")
        assert OldClient._meta.label_lower == "debtors.client"
        with workspace_context(workspace):
            old = OldClient.objects.filter(workspace_id=workspace.pk).first()
            old.remittance_details = "IBAN GB33 BUKB 2020 1555 5555 55"
            old.save(update_fields=["remittance_details"])
            stored = OldClient.objects.values_list("remittance_details", flat=True).get(pk=old.pk)
        assert "GB33" not in str(stored)  # encrypted at rest by the old model
    finally:
        _migrate(_latest())
    with workspace_context(workspace):
        moved = Client.objects.get(pk=old.pk)
        assert moved._meta.label_lower == "accounts.client"
        assert str(moved.remittance_details) == "IBAN GB33 BUKB 2020 1555 5555 55"


def test_every_moved_table_keeps_its_name():
    assert Client._meta.db_table == "debtors_client"
    assert Communication._meta.db_table == "debtors_communication"
    with connection.cursor() as cursor:
        assert set(MOVED_TABLES) <= set(connection.introspection.table_names(cursor))


def test_permissions_their_grants_and_admin_history_follow_a_moved_model(capsys):
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from accounts.models import User

    call_command("seed_demo", "--accounts", "0")
    capsys.readouterr()
    staff = User.objects.get(email="manager@acme.example")
    client_id = Client.unscoped.order_by("pk").values_list("pk", flat=True).first()
    try:
        _migrate(BEFORE_THE_MOVES)
        ContentType.objects.clear_cache()
        old_type, _ = ContentType.objects.get_or_create(app_label="debtors", model="client")
        granted, _ = Permission.objects.get_or_create(
            content_type=old_type, codename="change_client", defaults={"name": "Can change client"}
        )
        staff.user_permissions.add(granted)
        entry = LogEntry.objects.create(
            user=staff, content_type=old_type, object_id=str(client_id), object_repr="Sahyadri", action_flag=CHANGE
        )
    finally:
        _migrate(_latest())
    ContentType.objects.clear_cache()
    assert not ContentType.objects.filter(app_label="debtors", model="client").exists()
    assert LogEntry.objects.get(pk=entry.pk).content_type == ContentType.objects.get_for_model(Client)
    assert User.objects.get(pk=staff.pk).has_perm("accounts.change_client")
