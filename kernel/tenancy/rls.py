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
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_migrate

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


def _on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    # Run once per migrate, when the kernel app is signalled (all tables exist by then).
    if sender.name != "kernel":
        return
    apply_rls(connections[using])


def connect_signals() -> None:
    post_migrate.connect(_on_post_migrate, dispatch_uid="collectpro_rls")
