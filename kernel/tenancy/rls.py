"""PostgreSQL row-level security for every tenant table — the second wall.

After every ``migrate`` (post_migrate), for each model that is a ``TenantModel``
(or sets ``rls_tenant = True``) this enables RLS and (re)creates one policy:

    USING      workspace_id = app.workspace_id   [OR the model's rls_extra_read]
    WITH CHECK workspace_id = app.workspace_id

``app.workspace_id`` is set per transaction by ``workspace_context``. The
application role owns no table and is not BYPASSRLS, so with no workspace set it
sees nothing. Tables with a nullable ``workspace_id`` (the audit trail) treat
"no workspace set" as the global rows. Append-only models get only SELECT and
INSERT. Doing this from the model list (not hand-written migrations) means a new
tenant table is covered the moment it exists; a test asserts it.

Retention must still remove append-only rows once the law no longer requires them
(old audit events behind a signed checkpoint, the books of long-closed debts, consent
proof past its period). An append-only model that sets ``rls_prune_column`` (its
date) and ``rls_prune_min_days`` gets one ``SECURITY DEFINER`` function,
``collectpro_prune_<table>(ids text[])``: it deletes only the listed rows of the
current workspace whose date is older than the minimum, and whatever
``rls_prune_guard`` (a fixed SQL predicate over the row ``t``) adds — so even the
application role, which may not DELETE, can prune nothing younger than the law's
floor. ``prune_append_only`` calls it (a plain guarded delete on SQLite).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_migrate
from django.utils import timezone

from kernel.models import TenantModel

POLICY = "collectpro_tenant_isolation"
WS = "nullif(current_setting('app.workspace_id', true), '')::bigint"


def rls_models() -> list[Any]:
    return [
        m
        for m in apps.get_models()
        if m._meta.managed and not m._meta.proxy and (issubclass(m, TenantModel) or getattr(m, "rls_tenant", False))
    ]


def _policy_sql(model: Any, qn: Any) -> list[str]:
    table = qn(model._meta.db_table)
    nullable = model._meta.get_field("workspace").null
    match = f"workspace_id = {WS}"
    if nullable:
        match = f"(workspace_id = {WS} OR (workspace_id IS NULL AND {WS} IS NULL))"
    using = match
    extra = getattr(model, "rls_extra_read", "")
    if extra:
        using = f"({match} OR ({extra}))"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} USING ({using}) WITH CHECK ({match})",
    ]


def _role_exists(cursor: Any, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def apply_rls(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        return
    qn = connection.ops.quote_name
    role = settings.TENANCY_APP_ROLE
    with connection.cursor() as cursor:
        for model in rls_models():
            for sql in _policy_sql(model, qn):
                cursor.execute(sql)
        if not role or not _role_exists(cursor, role):
            return
        r = qn(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {r}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}")
        for model in rls_models():
            if getattr(model, "rls_append_only", False):
                cursor.execute(f"REVOKE UPDATE, DELETE ON {qn(model._meta.db_table)} FROM {r}")
        for model in prunable_models():
            for sql in _prune_function_sql(model, qn, r):
                cursor.execute(sql)


def prunable_models() -> list[Any]:
    return [m for m in rls_models() if getattr(m, "rls_append_only", False) and getattr(m, "rls_prune_column", "")]


def _prune_function(model: Any) -> str:
    return f"collectpro_prune_{model._meta.db_table}"


def _prune_function_sql(model: Any, qn: Any, role: str) -> list[str]:
    """The definer function that prunes ``model`` (all names and numbers come from the
    model class, none from input)."""
    table = qn(model._meta.db_table)
    pk = qn(model._meta.pk.column)
    column = qn(model._meta.get_field(model.rls_prune_column).column)
    days = int(model.rls_prune_min_days)
    guard = getattr(model, "rls_prune_guard", "") or "true"
    fn = qn(_prune_function(model))
    body = (
        f"DECLARE n integer; BEGIN "  # noqa: S608  (every name and number comes from the model class)
        f"DELETE FROM {table} t WHERE t.{pk}::text = ANY(ids) "
        f"AND t.workspace_id IS NOT DISTINCT FROM {WS} "
        f"AND t.{column} < now() - make_interval(days => {days}) "
        f"AND ({guard}); "
        f"GET DIAGNOSTICS n = ROW_COUNT; RETURN n; END"
    )
    return [
        f"CREATE OR REPLACE FUNCTION {fn}(ids text[]) RETURNS integer LANGUAGE plpgsql "
        f"SECURITY DEFINER SET search_path = public, pg_temp AS $fn$ {body} $fn$",
        f"REVOKE ALL ON FUNCTION {fn}(text[]) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {fn}(text[]) TO {role}",
    ]


def prune_append_only(model: Any, ids: list[Any]) -> int:
    """Delete the rows ``ids`` of an append-only ``model`` in the current workspace, as far
    as its floor (``rls_prune_min_days``) and guard allow; how many went. Run it inside
    the workspace's context (or none, for global rows)."""
    if not ids:
        return 0
    if not getattr(model, "rls_prune_column", ""):
        raise ValueError(f"{model._meta.label} declares no rls_prune_column: it cannot be pruned")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {_prune_function(model)}(%s)", [[str(i) for i in ids]])
            return int(cursor.fetchone()[0])
    floor = timezone.now() - timedelta(days=int(model.rls_prune_min_days))
    manager = getattr(model, "unscoped", model._base_manager)
    rows = manager.filter(pk__in=ids, **{f"{model.rls_prune_column}__lt": floor})
    # A plain DELETE, as the function above does: no ORM cascade or PROTECT check (a
    # reversal and the entry it reverses go together; what hangs on them is the caller's).
    return int(rows._raw_delete(rows.db))


def _on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # Run once per migrate, when the kernel app is signalled (all tables exist by then).
    if sender.name != "kernel":
        return
    apply_rls(connections[using])


def connect_signals() -> None:
    post_migrate.connect(_on_post_migrate, dispatch_uid="collectpro_rls")
