"""Writing the audit trail. Call ``audit_record`` inside the service's transaction.

``record_personal_data_access`` is the one helper every feature calls when a
person's data is revealed, exported or downloaded; ``export_record`` is the one a
view calls when it streams a workspace's data (a CSV, a statement) out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audit import actions
from audit.models import AuditChain, AuditEvent, chain_key
from kernel.context import current_request_info
from kernel.models import stable_label
from kernel.tenancy.context import _workspace

# No floats: their text form may change on a round trip through the database.
_ALLOWED_META = (str, int, bool, type(None))


def _canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(content)).hexdigest()


def _check_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    # Metadata is for ids, enums, counts and field names; never values a person typed.
    for key, value in metadata.items():
        if isinstance(value, list):
            if not all(isinstance(v, _ALLOWED_META) for v in value):
                raise ValueError(f"audit metadata {key!r} must hold plain scalars")
        elif not isinstance(value, _ALLOWED_META):
            raise ValueError(f"audit metadata {key!r} must be a plain scalar")
        if isinstance(value, str) and len(value) > 200:
            raise ValueError(f"audit metadata {key!r} is too long to be an id or enum")
    return metadata


def _normalise_ip(ip: str | None) -> str | None:
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None


def _lock_chain(workspace_id: int | None) -> AuditChain:
    key = chain_key(workspace_id)
    chain = AuditChain.objects.select_for_update().filter(key=key).first()
    if chain is None:
        AuditChain.objects.get_or_create(key=key, defaults={"workspace_id": workspace_id})
        chain = AuditChain.objects.select_for_update().get(key=key)
    return chain


def audit_record(
    *,
    action: str,
    workspace: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    metadata: dict[str, Any] | None = None,
    actor_user_id: int | None = None,
) -> AuditEvent:
    """Append one event to the workspace's chain (the global chain if ``workspace``
    is None and none is in context). Serialised per chain by a row lock."""
    if workspace is None:
        workspace = _workspace.get()
    workspace_id = getattr(workspace, "pk", workspace)
    info = current_request_info()
    if obj is not None:
        object_type = object_type or stable_label(obj)
        object_id = object_id or str(obj.pk)
    with transaction.atomic():
        chain = _lock_chain(workspace_id)
        event = AuditEvent(
            chain=chain.key,
            seq=chain.last_seq + 1,
            workspace_id=workspace_id,
            created_at=timezone.now(),
            action=action,
            actor_user_id=actor_user_id if actor_user_id is not None else info.actor_user_id,
            actor_api_key_id=info.actor_api_key_id or "",
            object_type=object_type,
            object_id=str(object_id),
            ip=_normalise_ip(info.ip),
            user_agent=info.user_agent,
            request_id=info.request_id,
            source=info.source,
            metadata=_check_metadata(dict(metadata or {})),
            prev_hash=chain.last_hash,
        )
        event.hash = event_hash(event.content())
        event.save(force_insert=True)
        AuditChain.objects.filter(pk=chain.pk).update(last_seq=event.seq, last_hash=event.hash)
    return event


def record_personal_data_access(
    *,
    subject: models.Model,
    fields: Iterable[str],
    purpose: str,
    kind: str = actions.PERSONAL_DATA_READ,
    workspace: Any = None,
) -> AuditEvent:
    """Record that someone saw (``kind`` = read), exported or downloaded a person's
    data. Stores the subject's id and the field *names*, never the values."""
    if kind not in (
        actions.PERSONAL_DATA_READ,
        actions.PERSONAL_DATA_EXPORT,
        actions.PERSONAL_DATA_DOWNLOAD,
    ):
        raise ValueError(f"not a personal-data access kind: {kind}")
    return audit_record(
        action=kind,
        workspace=workspace if workspace is not None else getattr(subject, "workspace_id", None),
        obj=subject,
        metadata={"fields": sorted(fields), "purpose": purpose},
    )


def export_record(
    *,
    action: str,
    workspace: Any,
    obj: models.Model | None = None,
    metadata: dict[str, Any] | None = None,
    actor_user_id: int | None = None,
) -> AuditEvent:
    """Record that a workspace's data left CollectPro as an export or download.
    An export writes nothing else, so this event is its whole trace: record it
    before the first byte is sent. ``metadata`` holds counts, periods and filter
    names, never values; a person's own data goes through
    ``record_personal_data_access`` instead."""
    if workspace is None:
        raise ValueError("an export belongs to a workspace")
    return audit_record(action=action, workspace=workspace, obj=obj, metadata=metadata, actor_user_id=actor_user_id)
