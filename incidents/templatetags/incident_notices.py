"""What the incident page's notices section shows (templates/incidents/_notices.html):
``{% notices_section incident as n %}``. Reads only; the page's own context (its duty
cards) is left as it is."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from accounts.models import Workspace
from incidents.client_notices import client_affected_accounts, client_notice_recipients
from incidents.clocks import clock_state
from incidents.contact import contact_point
from incidents.models import Duty, Incident, Party
from incidents.notice_messages import notice_preview
from incidents.notices import notices_progress, people_duty, start_blockers

register = template.Library()


@register.simple_tag
def notices_section(incident: Incident) -> dict[str, Any]:
    now = timezone.now()
    workspace = Workspace.objects.get(pk=incident.workspace_id)
    duty = people_duty(incident)
    progress = notices_progress(incident=incident)
    clock = clock_state(duty, now) if duty is not None else None
    contact = contact_point(workspace)
    languages = [("en", "English")] + ([("hi", "Hindi")] if workspace.jurisdiction == "IN" else [])
    previews = []
    for code, language in languages:
        for channel in ("email", "sms"):
            subject, body = notice_preview(incident=incident, contact=contact, channel=channel, language=code)
            previews.append(
                {
                    "label": f"{'Email' if channel == 'email' else 'SMS'} ({language})",
                    "subject": subject if channel == "email" else "",
                    "body": body,
                }
            )
    clients = []
    for client_duty in (
        Duty.objects.for_workspace(workspace)
        .filter(incident=incident, party=Party.CLIENT)
        .select_related("client")
        .order_by("due_at")
    ):
        assert client_duty.client is not None
        clients.append(
            {
                "duty": client_duty,
                "clock": clock_state(client_duty, now),
                "recipients": client_notice_recipients(workspace=workspace, client=client_duty.client),
                "accounts": len(client_affected_accounts(duty=client_duty)),
            }
        )
    return {
        "duty": duty,
        "clock": clock,
        "progress": progress,
        "blockers": start_blockers(incident=incident, duty=duty),
        "late": clock is not None and clock.state == "late" and not (duty and duty.late_reason),
        "previews": previews,
        "clients": clients,
        "contact": contact,
    }
