"""Access and portability: the person's copy, built from the registry (owned by the
export work; interface fixed).

- ``export_queue(request=…)``: queue the build (Celery task in export_tasks.py;
  in-process where there is no broker), idempotent per request.
- ``export_build(request=…) -> RequestFile``: the ZIP (JSON per record type with
  registry categories as keys, CSV, an HTML summary with what GDPR Art. 15
  requires), stored encrypted (kernel.crypto.blobs), expiring after 7 days.
- ``latest_export(request=…) -> RequestFile | None``: the current, undeleted copy.
"""

from __future__ import annotations

from privacy_requests.models import PrivacyRequest, RequestFile


def export_queue(*, request: PrivacyRequest) -> None:
    raise NotImplementedError


def latest_export(*, request: PrivacyRequest) -> RequestFile | None:
    raise NotImplementedError
