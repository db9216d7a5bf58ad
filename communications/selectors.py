"""Reads for the communications app: the communication log, and the lookups
views use (each a 404 whether the row is missing or another workspace's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Membership, Workspace
from communications.models import Communication, DebtSequence, MessageTemplate, Sequence
from debtors import selectors
from debtors.models import Debt, DebtEvent


def contacts_made(debt: Debt, channel: str, since: datetime, until: datetime) -> QuerySet[Communication]:
    """Outbound contacts on ``channel`` that count towards the caps (refused and
    failed messages never reached the debtor)."""
    return (
        Communication.objects.for_workspace(debt.workspace_id)
        .filter(debt_id=debt.pk, channel=channel, direction="outbound", occurred_at__gte=since, occurred_at__lt=until)
        .exclude(status__in=("refused", "failed"))
    )


def undelivered_messages(
    *, workspace: Workspace, membership: Membership, statuses: list[str]
) -> QuerySet[Communication]:
    """Outbound messages in ``statuses`` on the debts the member sees, newest first."""
    visible = selectors.debts_visible_to(workspace=workspace, membership=membership)
    return (
        Communication.objects.for_workspace(workspace)
        .filter(direction="outbound", status__in=statuses, debt__in=visible.values("pk"))
        .select_related("debt")
        .only("id", "channel", "status", "occurred_at", "template", "refusal_reasons", "debt__reference")
        .order_by("-occurred_at", "-id")
    )


def message_reasons(*, workspace: Workspace, messages: list[Communication]) -> dict[Any, str]:
    """Each message's reason: the latest timeline line about it (one query), else
    its refusal codes."""
    latest: dict[str, str] = {}
    for object_id, summary in (
        DebtEvent.objects.for_workspace(workspace)
        .filter(object_type="communication", object_id__in=[str(m.pk) for m in messages])
        .order_by("created_at")
        .values_list("object_id", "summary")
    ):
        latest[object_id] = summary
    return {
        m.pk: latest.get(str(m.pk)) or ", ".join(r.get("code", "") for r in (m.refusal_reasons or [])) for m in messages
    }


def message_template_get(*, workspace: Workspace, template_id: Any) -> MessageTemplate:
    """One version of one of the workspace's message templates."""
    template = MessageTemplate.objects.for_workspace(workspace).filter(pk=template_id).first()
    if template is None:
        raise Http404("No such template")
    return template


def sequence_get(*, workspace: Workspace, sequence_id: Any) -> Sequence:
    sequence = Sequence.objects.for_workspace(workspace).filter(pk=sequence_id).first()
    if sequence is None:
        raise Http404("No such sequence")
    return sequence


def debt_sequence_get(*, debt: Debt, enrolment_id: Any) -> DebtSequence:
    """The debt's enrolment in a sequence (with the sequence): another debt's
    enrolment is a 404 too, even in the same workspace."""
    enrolment = (
        DebtSequence.objects.for_workspace(debt.workspace_id)
        .filter(pk=enrolment_id, debt=debt)
        .select_related("sequence")
        .first()
    )
    if enrolment is None:
        raise Http404("No such enrolment")
    return enrolment
