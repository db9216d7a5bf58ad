"""How the kernel writes to the audit trail without importing it.

The kernel sits below every app, the audit trail included, yet some of its work
must be audited (shredding a person's data key). The audit app registers its
recorder here in ``AppConfig.ready()``; with none registered the kernel refuses
to go on rather than do audited work unaudited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SUBJECT_KEY_SHREDDED = "keys.subject_shredded"

_recorder: Callable[..., Any] | None = None


def register_audit_recorder(recorder: Callable[..., Any]) -> None:
    global _recorder
    _recorder = recorder


def audit_event(**fields: Any) -> Any:
    """Record one audit event through the registered recorder (``audit.services.audit_record``)."""
    if _recorder is None:
        raise RuntimeError("No audit recorder registered: the audit app must be installed.")
    return _recorder(**fields)
