"""Notice before erasure for inactivity, where the workspace's jurisdiction profile
requires it (``JurisdictionProfile.retention_notice_days``; India: 2 days, DPDP Rules
r.8): the ``privacy_requests.erasure_notice`` retention store (``retention.py``), which
runs before the erasure it announces.

**Who is told** (``people_to_notify``): the people who will fall due for erasure within
the notice days (``retention_people.people_inactive`` whose last activity is older than
the period less the notice) and have no notice sent after their last activity. Not in a
closed workspace: its data goes when the workspace's own time is up, not for inactivity.

**How** (``notices_send``): an email to the email on file, else an SMS to the phone on
file, through the communications pipeline (``communications.services.legal_notice_send``:
a ``Communication`` on the debt's timeline, delivered at most once by the same task as
every message). It is a notice the law requires, not collection contact: the contact
rules are not asked, so an opt-out, a cease-communication request or a paid debt does
not stop it, and it does not count as the debt's last contact (which would restart the
very clock it announces). Someone with neither is recorded as ``no_contact`` (and the
debt's timeline says so): the erasure still waits the notice days. The message (English,
or Hindi for a person whose language is Hindi) says what is erased and when, what is
kept and why, and how to object: contact the agency or make a payment — any collection
activity restarts the clock, after which a new notice is needed — or make a privacy
request. Each notice is a ``RetentionNotice`` and a ``retention.notice_sent`` audit event.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from communications.services import legal_notice_send
from debtors.models import Debt, Debtor
from debtors.services.status import debt_event
from kernel.privacy.registry import COLLECTION_RECORDS, FINANCIAL_RECORDS, Retention
from kernel.retention import PurgeContext, period_days
from privacy_requests.models import NoticeOutcome, RetentionNotice
from privacy_requests.retention_people import notice_days, notice_given, people_inactive
from privacy_requests.services import privacy_contact_for

NOTICE_TEMPLATE = "retention-erasure-notice"
LANGUAGES = ("en", "hi")
_SUBJECT = {
    "en": "{agency}: your personal data will be erased on or after {day}",
    "hi": "{agency}: आपका व्यक्तिगत डेटा {day} को या उसके बाद मिटा दिया जाएगा",
}


def people_to_notify(ctx: PurgeContext) -> QuerySet[Any]:
    """The people to tell now (module docstring). Reads only."""
    workspace = ctx.workspace
    days = notice_days(workspace)
    if not days or workspace.closed_at:
        return Debtor.objects.for_workspace(workspace).none()
    return (
        people_inactive(workspace)
        .filter(last_activity__lt=ctx.cutoff + timedelta(days=days))
        .filter(~notice_given(workspace))
    )


def notices_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    """What a dry run lists: ids and dates, never a contact."""
    rows = people_inactive(ctx.workspace).filter(pk__in=keys).values_list("pk", "last_activity")
    return [f"debtor {pk}: last collection activity {at:%Y-%m-%d}; to be told before erasure" for pk, at in rows]


def _address(value: str | None) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return "" if value.lower().endswith(".invalid") else value


def notice_channel(debtor: Debtor) -> str:
    """``email`` when a usable email is on file, else ``sms`` when a phone is, else ""."""
    if _address(debtor.email):
        return "email"
    return "sms" if (debtor.phone or "").strip() else ""


def _span(days: int, language: str) -> str:
    years, rest = divmod(days, 365)
    if years and not rest:
        return f"{years} वर्ष" if language == "hi" else f"{years} year" + ("s" if years != 1 else "")
    return f"{days} दिन" if language == "hi" else f"{days} day" + ("s" if days != 1 else "")


def _day(workspace: Workspace, moment: datetime, language: str) -> str:
    local: date = timezone.localtime(moment, timezone=_zone(workspace)).date()
    return f"{local:%d-%m-%Y}" if language == "hi" else f"{local.day} {local:%B %Y}"


def _zone(workspace: Workspace) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(workspace.timezone)


def _source(workspace: Workspace, rule: Retention) -> str:
    profiled = profile_for(workspace.jurisdiction).retention.get(rule.name)
    return profiled.source if profiled is not None else rule.source


def _privacy_page(workspace: Workspace) -> str:
    try:
        return settings.SITE_URL.rstrip("/") + reverse("privacy_request_new", kwargs={"workspace_slug": workspace.slug})
    except NoReverseMatch:  # the public pages are not installed
        return ""


def notice_message(
    *,
    workspace: Workspace,
    debts: list[Debt],
    channel: str,
    language: str,
    last_activity: datetime,
    erase_after: datetime,
    days: int,
) -> tuple[str, str]:
    """(subject, body) of the notice: what is erased and when, what is kept and why,
    how to object. Nothing of the person's but their account references."""
    language = language if language in LANGUAGES else "en"
    contact = privacy_contact_for(workspace)
    how = [v for v in (contact.contact_name, contact.contact_email, contact.contact_phone) if v] if contact else []
    erase_on = _day(workspace, erase_after, language)
    context = {
        "agency": workspace.name,
        "accounts": ", ".join(f"{d.reference} ({d.client.name})" for d in debts),
        "several": len(debts) > 1,
        "last_activity": _day(workspace, last_activity, language),
        "erase_on": erase_on,
        "period": _span(days, language),
        "period_source": _source(workspace, COLLECTION_RECORDS),
        "books_period": _span(period_days(workspace, FINANCIAL_RECORDS), language),
        "books_source": _source(workspace, FINANCIAL_RECORDS),
        "notice_source": profile_for(workspace.jurisdiction).retention_notice_source,
        "contact": ", ".join(how),
        "privacy_url": _privacy_page(workspace),
    }
    suffix = "" if language == "en" else f"_{language}"
    body = render_to_string(f"privacy_requests/retention_notice_{channel}{suffix}.txt", context).strip() + "\n"
    return _SUBJECT[language].format(agency=workspace.name, day=erase_on), body


def notices_send(ctx: PurgeContext, keys: list[Any]) -> int:
    """Tell each person of ``keys`` still to be told (inside the purge's transaction: the
    notices, their messages and the batch's cursor commit together; the messages are
    handed over after the commit). Returns how many notices were recorded."""
    workspace = ctx.workspace
    notice = notice_days(workspace) or 0
    people = list(people_to_notify(ctx).filter(pk__in=keys).order_by("pk"))
    debts: dict[Any, list[Debt]] = {}
    for debt in (
        Debt.objects.for_workspace(workspace)
        .filter(debtor_id__in=[p.pk for p in people])
        .select_related("client")
        .order_by("created_at", "pk")
    ):
        debts.setdefault(debt.debtor_id, []).append(debt)
    for person in people:
        # The run's clock, unless the run resumed later: the notice counts from when it went.
        sent_at = max(ctx.now, timezone.now())
        erase_after = max(person.last_activity + timedelta(days=ctx.days), sent_at + timedelta(days=notice))
        theirs = debts.get(person.pk, [])
        channel = notice_channel(person) if theirs else ""
        communication = None
        if channel:
            subject, body = notice_message(
                workspace=workspace,
                debts=theirs,
                channel=channel,
                language=person.preferred_language or "en",
                last_activity=person.last_activity,
                erase_after=erase_after,
                days=ctx.days,
            )
            communication = legal_notice_send(
                debt=theirs[-1],
                channel=channel,
                subject=subject,
                body=body,
                template=NOTICE_TEMPLATE,
                template_label="notice before erasure for inactivity",
                at=sent_at,
            )
        elif theirs:
            debt_event(
                theirs[-1], "privacy.retention_notice", "Notice before erasure not sent: no email or phone on file"
            )
        record = RetentionNotice(
            workspace=workspace,
            debtor=person,
            notified_at=sent_at,
            activity_at=person.last_activity,
            erase_after=erase_after,
            channel=channel,
            communication=communication,
            outcome=NoticeOutcome.QUEUED if communication is not None else NoticeOutcome.NO_CONTACT,
            run_id=ctx.run_id,
        )
        record.save(force_insert=True)
        audit_record(
            action=actions.RETENTION_NOTICE_SENT,
            workspace=workspace,
            obj=record,
            metadata={
                "debtor": str(person.pk),
                "channel": channel or "none",
                "outcome": str(record.outcome),
                "erase_after": erase_after.date().isoformat(),
                "run": ctx.run_id,
            },
        )
    return len(people)
