"""The erasure log: which data keys were shredded, kept outside the database's backups.

Crypto-shredding destroys a person's key in the live database, but a backup taken
before still holds the key (wrapped by a workspace key that the master keys can open).
So every shred is also written, as ids and a time only, to a log kept where the
backups are not (``erasure_log export``), and a restored backup is put beyond use
again by replaying it (``erasure_log replay``) before the restored database serves
anyone: every key shredded since the backup was taken is shredded again. When the
backups older than the last erasure expire (docs/retention.md, "Backups"), the person's
data has left them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from accounts.models import Workspace
from kernel.crypto.keyring import subject_key_shred
from kernel.models import SubjectKey
from kernel.tenancy import workspace_context


def erasure_log_lines(*, since: datetime | None = None) -> Iterator[str]:
    """One JSON line per shredded key of every workspace, oldest first: ids, never a value."""
    for workspace in Workspace.objects.order_by("pk"):
        with workspace_context(workspace):
            keys = SubjectKey.objects.for_workspace(workspace).filter(shredded_at__isnull=False)
            if since is not None:
                keys = keys.filter(shredded_at__gte=since)
            for subject_type, subject_id, shredded_at in keys.order_by("shredded_at").values_list(
                "subject_type", "subject_id", "shredded_at"
            ):
                yield json.dumps(
                    {
                        "workspace": workspace.slug,
                        "workspace_id": workspace.pk,
                        "subject_type": subject_type,
                        "subject_id": subject_id,
                        "shredded_at": shredded_at.isoformat(),
                    },
                    sort_keys=True,
                )


@dataclass
class ReplayResult:
    shredded: int = 0  # shredded again (the restored database still had the key)
    already: int = 0  # already shredded (or never had a key) in this database
    unknown_workspace: int = 0
    bad_lines: list[str] | None = None


def erasure_log_replay(*, lines: Iterable[str]) -> ReplayResult:
    """Shred again every key the log names (idempotent); bad lines are reported by
    number, and the rest still replays."""
    result = ReplayResult(bad_lines=[])
    workspaces: dict[Any, Workspace | None] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            workspace_id, subject_type, subject_id = row["workspace_id"], row["subject_type"], row["subject_id"]
            if not isinstance(subject_type, str) or not isinstance(subject_id, str):
                raise ValueError("subject_type and subject_id must be strings")
            if parse_datetime(str(row.get("shredded_at", ""))) is None:
                raise ValueError("shredded_at is not a date and time")
        except (ValueError, KeyError, TypeError) as exc:
            assert result.bad_lines is not None
            result.bad_lines.append(f"line {number}: {exc}")
            continue
        if workspace_id not in workspaces:
            workspaces[workspace_id] = Workspace.objects.filter(pk=workspace_id).first()
        workspace = workspaces[workspace_id]
        if workspace is None:
            result.unknown_workspace += 1
            continue
        with workspace_context(workspace):
            if subject_key_shred(workspace.pk, subject_type, subject_id):
                result.shredded += 1
            else:
                result.already += 1
    return result
