"""The worker that sends one-time codes (privacy_requests.verification).

The web request only queues this task, the same way whether or not the request
matched anyone: drawing the code, finding the contact on file and the time an
email or SMS provider takes all happen here, out of the page's timing."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Workspace
from accounts.tasking import workspace_task
from privacy_requests.models import PrivacyRequest
from privacy_requests.verification import code_send


@workspace_task()
def privacy_request_code_send(workspace: Workspace, request_id: str) -> bool:
    request = PrivacyRequest.objects.for_workspace(workspace).filter(pk=request_id).first()
    return request is not None and code_send(request=request)


def code_queue(*, request: PrivacyRequest) -> None:
    """Send a code for ``request`` on a worker once this transaction commits."""
    workspace_id, request_id = request.workspace_id, str(request.pk)
    transaction.on_commit(lambda: privacy_request_code_send.delay(workspace_id, request_id))
