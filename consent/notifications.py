"""Telling debtors about a material change to the privacy notice, in batches."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from consent.models import ConsentAction, ConsentRecord, PolicyVersion, Purpose
from debtors.models import Debtor
from kernel.tenancy import workspace_context

BATCH = 500


def policy_change_notify_all(*, policy_id: str) -> int:
    """Email every debtor who has an email address and has not opted out of email,
    workspace by workspace, BATCH at a time over one connection."""
    policy = PolicyVersion.objects.get(pk=policy_id)
    sent = 0
    url = settings.SITE_URL.rstrip("/") + "/legal/privacy/"
    for workspace in Workspace.objects.order_by("pk"):
        with workspace_context(workspace):
            opted_out = set(
                ConsentRecord.objects.filter(
                    purpose__in=[Purpose.CONTACT_EMAIL, Purpose.ALL_CONTACT], subject_type="debtor"
                )
                .order_by("subject_id", "purpose", "-created_at")
                .values_list("subject_id", "action")
                .distinct()
                .filter(action=ConsentAction.WITHDRAW)
                .values_list("subject_id", flat=True)
            )
            last = None
            while True:
                qs = Debtor.objects.exclude(email_bidx="").order_by("pk")
                if last is not None:
                    qs = qs.filter(pk__gt=last)
                batch = list(qs[:BATCH])
                if not batch:
                    break
                last = batch[-1].pk
                messages = [
                    EmailMessage(
                        subject=f"{workspace.name}: our privacy notice has changed",
                        body=(
                            f"We updated our privacy notice (version {policy.version}, effective {policy.effective_at:%Y-%m-%d}). "
                            f"Read it at {url}\n"
                        ),
                        to=[d.email],
                    )
                    for d in batch
                    if d.email and str(d.pk) not in opted_out
                ]
                if messages:
                    get_connection().send_messages(messages)
                    sent += len(messages)
                    audit_record(
                        action=actions.POLICY_DEBTORS_NOTIFIED,
                        workspace=workspace,
                        metadata={"policy_version": policy.version, "count": len(messages)},
                    )
    return sent
