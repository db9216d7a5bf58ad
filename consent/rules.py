"""The contact rules engine: one decision, ``can_contact(debt, channel, at)``.

It returns every reason a contact would break a rule — not just the first — so
an agent sees the whole picture and the refusal record is complete. Numbers come
from the workspace's jurisdiction profile (accounts/jurisdictions.py, sources in
docs/contact-rules.md) and its own ContactPolicy; the stricter always wins.
Every outbound communication path calls this (debtors.services.records and
consent.services.communication_send); a refusal is recorded and nothing is sent.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q

from accounts.jurisdictions import profile_for
from consent.models import CHANNEL_PURPOSE, ConsentAction, ConsentRecord, ContactPolicy, Purpose
from debtors.models import Debt, DebtStatus

CALL = "call"
CONVERSATION_OUTCOMES = frozenset({"right_party", "promise", "refused"})
REG_F_CALL_CAP = 7  # 12 CFR 1006.14(b)(2)(i)
REG_F_QUIET_DAYS = 7  # 12 CFR 1006.14(b)(2)(ii): the conversation day is day 1


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    source: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass
class Decision:
    allowed: bool
    channel: str
    local_time: datetime
    reasons: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "channel": self.channel,
            "debtor_local_time": self.local_time.isoformat(),
            "reasons": [r.as_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class EffectiveRules:
    start: time
    end: time
    hours_source: str
    caps: dict[str, int | None]
    cap_source: str
    allow_weekends: bool
    blackout_dates: frozenset[date]
    reg_f: bool


def effective_rules(workspace: Any) -> EffectiveRules:
    profile = profile_for(workspace.jurisdiction)
    policy = ContactPolicy.objects.for_workspace(workspace).first()
    start, end = profile.contact_start, profile.contact_end
    source = profile.contact_hours_source
    caps: dict[str, int | None] = {
        "call": profile.call_cap_per_7_days,
        "email": None,
        "sms": None,
        "whatsapp": None,
        "letter": None,
    }
    allow_weekends, blackout = True, frozenset[date]()
    if policy is not None:
        if policy.start_hour is not None and time(policy.start_hour) > start:
            start, source = time(policy.start_hour), "workspace contact policy"
        if policy.end_hour is not None and time(policy.end_hour % 24) < end and policy.end_hour > 0:
            end, source = time(policy.end_hour), "workspace contact policy"
        for channel in ("call", "email", "sms", "whatsapp"):
            own = getattr(policy, f"{channel}_cap_7_days")
            if own is not None and (caps[channel] is None or own < caps[channel]):  # type: ignore[operator]
                caps[channel] = own
        allow_weekends = policy.allow_weekends
        blackout = frozenset(date.fromisoformat(d) for d in policy.blackout_dates or [] if isinstance(d, str))
    return EffectiveRules(
        start, end, source, caps, profile.call_cap_source, allow_weekends, blackout, workspace.jurisdiction == "US"
    )


def debtor_zone(debt: Debt) -> zoneinfo.ZoneInfo:
    name = debt.debtor.timezone or debt.workspace.timezone
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(debt.workspace.timezone)


def consent_state(*, workspace_id: int, subject_type: str, subject_id: str, purpose: str) -> str | None:
    """'grant', 'withdraw' or None (never recorded): the latest record wins."""
    latest = (
        ConsentRecord.objects.for_workspace(workspace_id)
        .filter(subject_type=subject_type, subject_id=subject_id, purpose=purpose)
        .order_by("-created_at", "-id")
        .values_list("action", flat=True)
        .first()
    )
    return latest


# The contacts already made are counted from the communication log, which lives
# above this app (communications registers its selector in AppConfig.ready()).
ContactHistory = Callable[[Debt, str, datetime, datetime], Any]
_contact_history: ContactHistory | None = None


def register_contact_history(history: ContactHistory) -> None:
    """``history(debt, channel, since, until)`` → a queryset of contacts made."""
    global _contact_history
    _contact_history = history


def _contacts(debt: Debt, channel: str, since: datetime, until: datetime) -> Any:
    if _contact_history is None:
        raise RuntimeError("No contact history registered: the communications app must be installed.")
    return _contact_history(debt, channel, since, until)


@dataclass(frozen=True)
class Asked:
    """One question put to the rules: this debt, this channel, this moment."""

    debt: Debt
    channel: str
    at: datetime
    local: datetime  # ``at`` on the debtor's clock
    rules: EffectiveRules


# A rule looks at one question and returns the reasons it refuses (none: it allows).
Rule = Callable[[Asked], list[Reason]]


def rule_who_the_debtor_is(asked: Asked) -> list[Reason]:
    debtor = asked.debt.debtor
    reasons = []
    if debtor.is_minor:
        reasons.append(Reason("minor", "The debtor is flagged under 18 and held out of collection until reviewed."))
    if debtor.is_deceased:
        reasons.append(Reason("deceased", "The debtor is recorded as deceased."))
    if debtor.is_bankrupt:
        reasons.append(Reason("bankrupt", "The debtor is in bankruptcy; collection contact is stayed."))
    if debtor.processing_restricted:
        reasons.append(
            Reason("restricted", "Processing of the debtor's data is restricted (rights request).", "GDPR Art. 18")
        )
    return reasons


_NOT_COLLECTABLE = (
    DebtStatus.ON_HOLD,
    DebtStatus.CLOSED,
    DebtStatus.RECALLED,
    DebtStatus.PAID,
    DebtStatus.SETTLED,
    DebtStatus.WRITTEN_OFF,
)


def rule_where_the_debt_stands(asked: Asked) -> list[Reason]:
    debt = asked.debt
    reasons = []
    if debt.legal_hold:
        reasons.append(Reason("legal_hold", "The debt is under a legal hold."))
    if debt.status == DebtStatus.DISPUTED:
        reasons.append(
            Reason(
                "disputed",
                "The debt has an open dispute; collection is on hold until it is resolved.",
                "12 CFR 1006.38",
            )
        )
    elif debt.status in _NOT_COLLECTABLE:
        reasons.append(Reason("not_collectable", f"The debt is {debt.get_status_display().lower()}."))
    return reasons


def rule_what_the_debtor_asked(asked: Asked) -> list[Reason]:
    """Cease-communication requests and per-channel opt-outs (the latest consent record wins)."""
    debt, channel = asked.debt, asked.channel
    subject = str(debt.debtor_id)

    def withdrawn(purpose: str) -> bool:
        state = consent_state(
            workspace_id=debt.workspace_id, subject_type="debtor", subject_id=subject, purpose=purpose
        )
        return state == ConsentAction.WITHDRAW

    reasons = []
    if withdrawn(Purpose.ALL_CONTACT):
        reasons.append(
            Reason("cease_communication", "The debtor asked us to stop all communication.", "12 CFR 1006.6(c)")
        )
    purpose = CHANNEL_PURPOSE.get(channel)
    if purpose and withdrawn(purpose):
        reasons.append(Reason("opted_out", f"The debtor opted out of {channel}.", "12 CFR 1006.14(h)"))
    return reasons


def rule_contact_on_file(asked: Asked) -> list[Reason]:
    debtor, channel = asked.debt.debtor, asked.channel
    if channel == "email" and not debtor.email:
        return [Reason("no_address", "No email address on file.")]
    if channel in ("sms", "call", "whatsapp") and not debtor.phone:
        return [Reason("no_number", "No phone number on file.")]
    return []


def rule_the_debtors_clock(asked: Asked) -> list[Reason]:
    """Contact hours, weekends and blackout dates on the debtor's local calendar
    (letters are not time-bound)."""
    if asked.channel == "letter":
        return []
    local, rules = asked.local, asked.rules
    reasons = []
    if not (rules.start <= local.time() < rules.end):
        reasons.append(
            Reason(
                "outside_hours",
                f"It is {local:%H:%M} for the debtor ({local.tzinfo}); contact is allowed {rules.start:%H:%M}–{rules.end:%H:%M}.",
                rules.hours_source,
            )
        )
    if not rules.allow_weekends and local.weekday() >= 5:
        reasons.append(
            Reason("weekend", "The workspace does not contact debtors at weekends.", "workspace contact policy")
        )
    if local.date() in rules.blackout_dates:
        reasons.append(Reason("blackout", f"{local.date()} is a blackout date.", "workspace contact policy"))
    return reasons


def rule_frequency_cap(asked: Asked) -> list[Reason]:
    """At most ``cap`` contacts on the channel in the last 7 days (profile or workspace, the stricter)."""
    cap = asked.rules.caps.get(asked.channel)
    if cap is None:
        return []
    made = _contacts(asked.debt, asked.channel, asked.at - timedelta(days=7), asked.at).count()
    if made < cap:
        return []
    source = asked.rules.cap_source if asked.channel == CALL else "workspace contact policy"
    return [Reason("frequency_cap", f"{made} {asked.channel} attempts in the last 7 days (limit {cap}).", source)]


def rule_quiet_after_a_conversation(asked: Asked) -> list[Reason]:
    """Reg F: no call within 7 days after a telephone conversation; the conversation day is day 1."""
    if asked.channel != CALL or not asked.rules.reg_f:
        return []
    local = asked.local
    quiet_from = datetime.combine(local.date() - timedelta(days=REG_F_QUIET_DAYS - 1), time.min, tzinfo=local.tzinfo)
    talked = (
        _contacts(asked.debt, CALL, quiet_from, asked.at)
        .filter(Q(outcome__in=CONVERSATION_OUTCOMES))
        .order_by("-occurred_at")
        .first()
    )
    if talked is None:
        return []
    day1 = talked.occurred_at.astimezone(local.tzinfo).date()
    return [
        Reason(
            "recent_conversation",
            f"A telephone conversation took place on {day1}; no calls until {day1 + timedelta(days=REG_F_QUIET_DAYS)}.",
            "12 CFR 1006.14(b)(2)(ii)",
        )
    ]


# Asked in this order, so the reasons read from who and what to when and how often.
RULES: tuple[Rule, ...] = (
    rule_who_the_debtor_is,
    rule_where_the_debt_stands,
    rule_what_the_debtor_asked,
    rule_contact_on_file,
    rule_the_debtors_clock,
    rule_frequency_cap,
    rule_quiet_after_a_conversation,
)
# Rules that apps above this one add in their AppConfig.ready() (a legal hold, a
# restriction of processing…), asked after the built-in ones.
_registered_rules: list[Rule] = []


def register_contact_rule(rule: Rule) -> None:
    if rule not in _registered_rules:
        _registered_rules.append(rule)


def can_contact(debt: Debt, channel: str, at: datetime) -> Decision:
    """May we contact this debt's debtor on ``channel`` at ``at`` (aware datetime)?
    Every rule is asked, so the decision carries every reason, not just the first."""
    local = at.astimezone(debtor_zone(debt))
    asked = Asked(debt=debt, channel=channel, at=at, local=local, rules=effective_rules(debt.workspace))
    reasons = [reason for rule in (*RULES, *_registered_rules) for reason in rule(asked)]
    return Decision(allowed=not reasons, channel=channel, local_time=local, reasons=reasons)
