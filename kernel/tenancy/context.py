from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction

if TYPE_CHECKING:
    from kernel.types import WorkspaceLike as Workspace


class WorkspaceNotSet(RuntimeError):
    """A tenant query ran with no workspace in context. Scoped queries never fail open."""


_workspace: contextvars.ContextVar[Workspace | None] = contextvars.ContextVar("collectpro_workspace", default=None)

# The settings RLS policies read. Values are strings; '' means "not set".
_DB_KEYS = (
    "app.workspace_id",
    "app.user_id",
    "app.api_key_hash",
    "app.invitation_hash",
    "app.payment_link_hash",
    "app.provider_ref",
)


def current_workspace() -> Workspace:
    ws = _workspace.get()
    if ws is None:
        raise WorkspaceNotSet("No workspace in context: wrap the work in workspace_context().")
    return ws


def current_workspace_id() -> int:
    return current_workspace().pk


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _read_db_settings(cursor: Any) -> dict[str, str]:
    cursor.execute(
        "SELECT " + ", ".join(["coalesce(current_setting(%s, true), '')"] * len(_DB_KEYS)),
        list(_DB_KEYS),
    )
    return dict(zip(_DB_KEYS, cursor.fetchone(), strict=True))


def _write_db_settings(cursor: Any, values: dict[str, str]) -> None:
    keys = list(values)
    cursor.execute(
        "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(keys)),
        [item for key in keys for item in (key, values[key])],
    )


@contextmanager
def db_scope(**values: str | int | None) -> Iterator[None]:
    """Run the block in a transaction whose RLS settings carry ``values``
    (``workspace_id``, ``user_id``, ``api_key_hash``, ``invitation_hash``).

    On PostgreSQL this also switches to ``TENANCY_DB_ROLE`` for the transaction
    when one is configured (CI runs the suite that way, so every request is
    checked by row-level security). Settings and role are restored when the block
    ends normally; if it raises, rolling back the savepoint restores them.
    """
    with transaction.atomic():
        if not _is_postgres():
            yield
            return
        role = getattr(settings, "TENANCY_DB_ROLE", "")
        with connection.cursor() as cursor:
            previous = _read_db_settings(cursor)
            cursor.execute("SELECT current_user")
            previous_role = cursor.fetchone()[0]
            wanted = {f"app.{k}": "" if v is None else str(v) for k, v in values.items()}
            _write_db_settings(cursor, {**previous, **wanted})
            if role and previous_role != role:
                cursor.execute(f'SET LOCAL ROLE "{role}"')  # role name from settings, not input
        yield
        with connection.cursor() as cursor:
            _write_db_settings(cursor, previous)
            if role and previous_role != role:
                cursor.execute(f'SET LOCAL ROLE "{previous_role}"')


@contextmanager
def workspace_context(workspace: Workspace, *, user_id: int | None = None) -> Iterator[Workspace]:
    """Make ``workspace`` the current tenant for the ORM (scoped managers) and,
    on PostgreSQL, for row-level security, inside one transaction."""
    token = _workspace.set(workspace)
    try:
        extra: dict[str, str | int | None] = {"workspace_id": workspace.pk}
        if user_id is not None:
            extra["user_id"] = user_id
        with db_scope(**extra):
            yield workspace
    finally:
        _workspace.reset(token)


@contextmanager
def no_workspace() -> Iterator[None]:
    """Explicitly leave any workspace (e.g. for global security events)."""
    token = _workspace.set(None)
    try:
        yield
    finally:
        _workspace.reset(token)
