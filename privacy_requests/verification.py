"""Identity verification for rights requests (owned by the intake work; interface fixed).

- ``subject_match``: find the person a request is about from what the requester
  typed (never revealed to them).
- ``code_send``: a one-time code to a contact the workspace already holds for that
  person — never to one the requester typed; an unmatched request behaves the same
  from outside (no enumeration).
- ``code_check``: the code plus a knowledge check; on success the request is
  verified (``services.privacy_request_verified``).
- ``session_mark_verified`` / ``session_recently_verified``: the browser session
  that just verified may download the request's files for a short while
  (re-verification before a download).

The rules, each in one place below:

- A code is 6 digits from ``secrets``; only an HMAC-SHA256 of it (keyed from
  ``SECRET_KEY``, bound to the request) is stored and it is compared in constant
  time. It is single-use, expires after ``CODE_TTL`` and a new one replaces the
  old. A code gets ``MAX_TRIES_PER_CODE`` tries; a request gets
  ``MAX_FAILURES_PER_HOUR`` failures an hour, after which every try (even the right
  code) is refused; an address gets ``IP_CHECKS_PER_WINDOW`` tries per window.
- The same limits hold per PERSON across all their requests (a new request per
  try must not reset them): ``MAX_CODES_PER_PERSON_PER_HOUR`` codes sent and
  ``MAX_FAILURES_PER_PERSON_PER_HOUR`` failed checks an hour for the matched
  debtor (or user), counted from the codes and the timelines of all their requests.
  Past the failures, every check is refused with the same answer as a wrong code.
- A debt reference the requester typed to be found proves nothing as the
  knowledge check (it is what they already gave): intake names the debts it found
  them by on the timeline (``found_by_reference_reason``) and that reference is then
  refused, with the same answer as any other failure.
- From outside, an unmatched request is indistinguishable from a matched one: the
  web request queues the same task either way (``verification_tasks.code_queue``), the task does the same work (it
  draws and hashes a code, it just has nowhere to send it), and a check fails with
  the same answer, and locks after the same number of tries.
- Every send, withheld send, failure and success is audited and put on the
  request's timeline (without personal data: contacts are masked).
"""

from __future__ import annotations

import enum
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User, Workspace
from audit import actions
from audit.services import audit_record
from communications.sms import SmsSendError, get_sms_provider
from debtors.models import Debt, Debtor
from debtors.selectors import exact_search_filter
from kernel.crypto.keyring import SubjectKeyShredded
from privacy_requests import exports
from privacy_requests.models import (
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestStatus,
    RequestType,
    SubjectType,
    VerificationCode,
)
from privacy_requests.services import privacy_request_note, privacy_request_verified

log = logging.getLogger("collectpro.privacy_requests")

RECENT = timedelta(minutes=15)
CODE_TTL = timedelta(minutes=15)
CODE_DIGITS = 6
MAX_TRIES_PER_CODE = 5
MAX_FAILURES_PER_HOUR = 5
MAX_CODES_PER_HOUR = 5
# Per person (the matched debtor or user), across all their requests.
MAX_CODES_PER_PERSON_PER_HOUR = 5
MAX_FAILURES_PER_PERSON_PER_HOUR = 10
IP_CHECKS_PER_WINDOW = 20
IP_SENDS_PER_WINDOW = 10
IP_WINDOW_SECONDS = 15 * 60
HOUR = timedelta(hours=1)

_SESSION_KEY = "privacy_verified"
_HASH_SALT = "collectpro.privacy_requests.verification_code"
# Requests that will never be verified again: no code is sent for them.
_NOT_VERIFIABLE = frozenset({RequestStatus.REFUSED, RequestStatus.WITHDRAWN})
# Access and portability are answered with a copy, built once the person is known.
COPY_TYPES = frozenset({RequestType.ACCESS, RequestType.PORTABILITY})


class Knowledge(enum.StrEnum):
    """The one thing, besides the code, the requester shows they know."""

    DATE_OF_BIRTH = "date_of_birth"
    PHONE_LAST4 = "phone_last4"
    NATIONAL_ID_LAST4 = "national_id_last4"
    DEBT_REFERENCE = "debt_reference"


KNOWLEDGE_METHOD = {
    Knowledge.DATE_OF_BIRTH: "date of birth",
    Knowledge.PHONE_LAST4: "last 4 digits of phone",
    Knowledge.NATIONAL_ID_LAST4: "last 4 of national id",
    Knowledge.DEBT_REFERENCE: "a debt reference",
}


class CheckResult(enum.StrEnum):
    VERIFIED = "verified"
    WRONG = "wrong"  # the code or the answer is wrong, the code expired, or no one matched
    LOCKED = "locked"  # too many tries: refused even with the right code


# --- Finding the person --------------------------------------------------------------


def request_by_reference(*, workspace: Workspace, reference: str) -> PrivacyRequest | None:
    """The workspace's request with this reference (None for another workspace's)."""
    return (
        PrivacyRequest.objects.for_workspace(workspace).filter(reference=reference.strip().upper()[:16]).first()
        if reference
        else None
    )


def _candidates(workspace: Workspace, value: str) -> set[object]:
    """Debtors matched exactly (blind indexes: email, phone, national id, name;
    their external reference) or through the reference of one of their debts."""
    value = value.strip()
    if not value:
        return set()
    ids = set(
        Debtor.objects.for_workspace(workspace)
        .filter(exact_search_filter(workspace, value))
        .values_list("id", flat=True)[:2]
    )
    ids |= set(Debt.objects.for_workspace(workspace).filter(reference=value).values_list("debtor_id", flat=True)[:2])
    return ids


_NO_ONE = uuid.UUID(int=0)


def subject_match(*, workspace: Workspace, identifier: str, contact: str = "") -> Debtor | None:
    """The one debtor the requester's details point at, or None.

    ``identifier`` is what they gave us to find them by (a debt reference, or an
    email or phone we may hold); ``contact`` is where they said they can be reached,
    tried too because it is often the contact we hold. Only exact matches count,
    and only when they name exactly one person: two candidates (a shared name, the
    same reference at two clients) match no one rather than the wrong one."""
    ids = _candidates(workspace, identifier) | _candidates(workspace, contact)
    # The same queries whatever was found (no timing difference to read): the nil
    # id matches no one but keeps Django from skipping the query for an empty list.
    found = list(Debtor.objects.for_workspace(workspace).filter(pk__in=[*ids, _NO_ONE])[:2])
    return found[0] if len(found) == 1 and len(ids) == 1 else None


# Which debts the requester was found by (their ids: no personal data) is said in
# the reason of the request's move to awaiting verification at intake — a step
# every web request takes, so matched or not the same rows are written. Their
# reference then proves nothing as the knowledge check.
FOUND_BY_MARK = "not a knowledge check: the reference they were found by, debt"
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def found_by_reference_ids(*, workspace: Workspace, debtor: Debtor | None, typed: list[str]) -> list[str]:
    """The ids of ``debtor``'s debts whose reference is one of the values the
    requester typed to be found. One query whether anyone matched or not."""
    values = [v.strip()[:64] for v in typed if v and v.strip()]
    return sorted(
        str(pk)
        for pk in Debt.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk if debtor is not None else _NO_ONE, reference__in=[*values, ""])
        .values_list("pk", flat=True)
    )


def found_by_reference_reason(debt_ids: list[str]) -> str:
    """What to add to the reason of the move to awaiting verification ("" if the
    requester was not found by a debt reference)."""
    return f"; {FOUND_BY_MARK} {', '.join(debt_ids)}" if debt_ids else ""


def _found_by_debt_ids(request: PrivacyRequest) -> set[str]:
    reasons = (
        PrivacyRequestEvent.objects.for_workspace(request.workspace_id)
        .filter(request=request, to_status=RequestStatus.AWAITING_VERIFICATION, reason__contains=FOUND_BY_MARK)
        .values_list("reason", flat=True)
    )
    return {found for reason in reasons for found in _UUID_RE.findall(reason.partition(FOUND_BY_MARK)[2])}


def _same_person(request: PrivacyRequest) -> dict[str, object] | None:
    """The filter on ``request__…`` that selects every request about the same
    person (the matched debtor, else the user); None when no one matched."""
    if request.debtor_id is not None:
        return {"request__debtor_id": request.debtor_id}
    if request.user_id is not None:
        return {"request__user_id": request.user_id}
    return None


def _person_codes_this_hour(request: PrivacyRequest, now: datetime) -> int:
    person = _same_person(request)
    if person is None:
        return 0
    return (
        VerificationCode.objects.for_workspace(request.workspace_id)
        .filter(created_at__gte=now - HOUR, **person)
        .count()
    )


def _person_failures_this_hour(request: PrivacyRequest, now: datetime) -> int:
    person = _same_person(request)
    if person is None:
        return 0
    return (
        PrivacyRequestEvent.objects.for_workspace(request.workspace_id)
        .filter(kind="code_failed", created_at__gte=now - HOUR, **person)
        .count()
    )


# --- Sending a code --------------------------------------------------------------------


@dataclass(frozen=True)
class OnFile:
    """A contact the workspace holds for the person: where a code may go."""

    channel: str  # "email" | "sms"
    address: str

    @property
    def label(self) -> str:
        return "email" if self.channel == "email" else "phone"

    @property
    def masked(self) -> str:
        if self.channel == "email":
            local, _, domain = self.address.partition("@")
            return f"{local[:1]}***@{domain}"
        return "*" * max(len(self.address) - 4, 0) + self.address[-4:]


def _contact_on_file(request: PrivacyRequest) -> OnFile | None:
    """The email (preferred) or phone the workspace holds for the request's person."""
    try:
        if request.debtor_id is not None:
            debtor = Debtor.objects.for_workspace(request.workspace_id).filter(pk=request.debtor_id).first()
            if debtor is None:
                return None
            if debtor.email:
                return OnFile("email", debtor.email)
            if debtor.phone:
                return OnFile("sms", debtor.phone)
            return None
    except SubjectKeyShredded:  # an erased person: nothing on file any more
        return None
    if request.user_id is not None:
        user = User.objects.filter(pk=request.user_id).first()
        return OnFile("email", user.email) if user is not None and user.email else None
    return None


def _code_hash(request_id: object, code: str) -> str:
    # Bound to the request, so a code is worth nothing on another request.
    return salted_hmac(_HASH_SALT, f"{request_id}:{code}", algorithm="sha256").hexdigest()


# A hash no code has, compared against when there is no code, so an unmatched
# request takes the same path as a matched one.
_NO_CODE = "0" * 64


def _withheld(request: PrivacyRequest, reason: str) -> None:
    privacy_request_note(request=request, kind="code_withheld", reason=f"No code sent: {reason}.", actor_label="system")
    audit_record(
        action=actions.PRIVACY_REQUEST_CODE_WITHHELD,
        workspace=request.workspace_id,
        obj=request,
        metadata={"reason": reason},
    )


def code_send(*, request: PrivacyRequest) -> bool:
    """Draw a one-time code and send it to the contact on file for the request's
    person; True when one was sent. Nothing is sent when no one matched, nothing is
    on file, the request is closed for good, or ``MAX_CODES_PER_HOUR`` went out
    already (the person is not flooded) — the work is the same, only the sending is
    skipped, and the reason is on the timeline.

    The code goes only to a contact the workspace already holds, never to one the
    requester typed: whoever typed the details must also hold the person's inbox or
    phone. It is not collection contact and deliberately bypasses the contact rules
    (hours, caps, opt-outs, cease-contact, restriction): it answers the person's own
    request about their data, which the law requires us to facilitate (GDPR Art.
    12(2)); an opt-out from collection must not block the right being exercised."""
    with transaction.atomic():
        request = PrivacyRequest.objects.for_workspace(request.workspace_id).select_for_update().get(pk=request.pk)
        now = timezone.now()
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        digest = _code_hash(request.pk, code)
        codes = VerificationCode.objects.for_workspace(request.workspace_id).filter(request=request)
        sent_this_hour = codes.filter(created_at__gte=now - HOUR).count()
        on_file = _contact_on_file(request)
        if request.debtor_id is None and request.user_id is None:
            _withheld(request, "no one matched the details given")
            return False
        if on_file is None:
            _withheld(request, "no email or phone on file for the person")
            return False
        if request.status in _NOT_VERIFIABLE:
            _withheld(request, "the request is closed")
            return False
        if sent_this_hour >= MAX_CODES_PER_HOUR:
            _withheld(request, "too many codes this hour")
            return False
        if _person_codes_this_hour(request, now) >= MAX_CODES_PER_PERSON_PER_HOUR:
            _withheld(request, "too many codes this hour for this person (all their requests)")
            return False
        codes.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)  # one live code at a time
        VerificationCode(
            workspace_id=request.workspace_id,
            request=request,
            code_hash=digest,
            channel=on_file.channel,
            sent_to_masked=on_file.masked[:64],
            created_at=now,
            expires_at=now + CODE_TTL,
        ).save(force_insert=True)
        privacy_request_note(
            request=request,
            kind="code_sent",
            reason=f"One-time code sent by {on_file.label} to {on_file.masked} (on file)",
            actor_label="system",
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_CODE_SENT,
            workspace=request.workspace_id,
            obj=request,
            metadata={"channel": on_file.channel},
        )
        workspace = Workspace.objects.get(pk=request.workspace_id)
        reference = request.reference
        transaction.on_commit(lambda: _deliver(on_file, code=code, agency=workspace.name, reference=reference))
    return True


def _deliver(on_file: OnFile, *, code: str, agency: str, reference: str) -> None:
    minutes = int(CODE_TTL.total_seconds() // 60)
    text = (
        f"Your {agency} code for privacy request {reference} is {code}. It expires in {minutes} minutes. "
        "If you did not ask about your personal data, ignore this message."
    )
    if on_file.channel == "email":
        send_mail(
            subject=f"Your code for privacy request {reference}",
            message=text + "\n\nWe will never ask you for this code by phone.\n",
            from_email=None,
            recipient_list=[on_file.address],
        )
        return
    try:
        get_sms_provider().send(to=on_file.address, body=text)
    except (SmsSendError, OSError):
        # The requester asks for a new code; the timeline already says one was drawn.
        log.warning("privacy request %s: the code SMS could not be sent", reference)


# --- Checking a code -------------------------------------------------------------------


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _alnum(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def parse_date_of_birth(value: str) -> date | None:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _knowledge_ok(request: PrivacyRequest, kind: str, answer: str) -> bool:
    """The answer against what the workspace holds; False for anyone unmatched
    (after the same comparison against nothing)."""
    answer = answer.strip()
    debtor = (
        Debtor.objects.for_workspace(request.workspace_id).filter(pk=request.debtor_id).first()
        if request.debtor_id is not None
        else None
    )
    try:
        if kind == Knowledge.DATE_OF_BIRTH:
            given = parse_date_of_birth(answer)
            held = (debtor.date_of_birth if debtor else None) or ""
            return _same(given.isoformat() if given else "-", held or "") and bool(held)
        if kind == Knowledge.PHONE_LAST4:
            held = _digits((debtor.phone if debtor else None) or "")[-4:]
            return _same(_digits(answer)[-4:] if len(_digits(answer)) == 4 else "-", held) and len(held) == 4
        if kind == Knowledge.NATIONAL_ID_LAST4:
            held = _alnum((debtor.national_id if debtor else None) or "")[-4:]
            return _same(_alnum(answer) if len(_alnum(answer)) == 4 else "-", held) and len(held) == 4
        if kind == Knowledge.DEBT_REFERENCE:
            if not answer:
                return False
            named = {
                str(pk)
                for pk in Debt.objects.for_workspace(request.workspace_id)
                .filter(reference=answer[:64], debtor_id=debtor.pk if debtor is not None else _NO_ONE)
                .values_list("pk", flat=True)
            }
            # The reference they typed to be found proves nothing: they already gave it.
            return bool(named) and not (named & _found_by_debt_ids(request))
    except SubjectKeyShredded:
        return False
    return False


def ip_allowed(scope: str, ip: str | None, *, limit: int, window: int = IP_WINDOW_SECONDS) -> bool:
    """Count one more try from ``ip`` for ``scope``; False once ``limit`` is passed."""
    if not ip:
        return True
    key = f"privacy:{scope}:{ip}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    return int(count) <= limit


def _failed(request: PrivacyRequest, reason: str) -> None:
    privacy_request_note(
        request=request, kind="code_failed", reason=f"Verification failed: {reason}.", actor_label="requester"
    )
    audit_record(
        action=actions.PRIVACY_REQUEST_CODE_FAILED,
        workspace=request.workspace_id,
        obj=request,
        metadata={"reason": reason},
    )


def code_check(
    *, request: PrivacyRequest, code: str, knowledge: str, answer: str, ip: str | None = None
) -> CheckResult:
    """Check the code and the knowledge answer; on success the request is verified
    (or, verified before, re-verified for a download) and a copy is queued for
    access and portability requests.

    A request gets ``MAX_FAILURES_PER_HOUR`` failures an hour and a code
    ``MAX_TRIES_PER_CODE`` tries; past either, every try is refused, even with the
    right code. Whether anyone matched never changes the answer."""
    address_ok = ip_allowed("check", ip, limit=IP_CHECKS_PER_WINDOW)
    with transaction.atomic():
        request = PrivacyRequest.objects.for_workspace(request.workspace_id).select_for_update().get(pk=request.pk)
        now = timezone.now()
        failures = (
            PrivacyRequestEvent.objects.for_workspace(request.workspace_id)
            .filter(request=request, kind="code_failed", created_at__gte=now - HOUR)
            .count()
        )
        latest = (
            VerificationCode.objects.for_workspace(request.workspace_id)
            .filter(request=request, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        code_ok = _same(latest.code_hash if latest else _NO_CODE, _code_hash(request.pk, code.strip()))
        knowledge_ok = _knowledge_ok(request, knowledge, answer)
        if latest is not None:
            VerificationCode.objects.for_workspace(request.workspace_id).filter(pk=latest.pk).update(
                attempts=latest.attempts + 1
            )
        if not address_ok:
            _failed(request, "too many tries from this address")
            return CheckResult.LOCKED
        if failures >= MAX_FAILURES_PER_HOUR or (latest is not None and latest.attempts >= MAX_TRIES_PER_CODE):
            _failed(request, "too many tries")
            return CheckResult.LOCKED
        if _person_failures_this_hour(request, now) >= MAX_FAILURES_PER_PERSON_PER_HOUR:
            # Answered like a wrong code: a lock only a matched person can reach would
            # tell a guesser that the details they typed match someone.
            _failed(request, "too many failures for this person this hour (all their requests)")
            return CheckResult.WRONG
        reason = (
            "no one matched"
            if request.debtor_id is None and request.user_id is None
            else "no code sent"
            if latest is None
            else "the code expired"
            if latest.expires_at <= now
            else "wrong code"
            if not code_ok
            else "wrong answer to the knowledge check"
            if not knowledge_ok
            else "the request is closed"
            if request.status in _NOT_VERIFIABLE
            else ""
        )
        if reason:
            _failed(request, reason)
            return CheckResult.WRONG
        assert latest is not None
        VerificationCode.objects.for_workspace(request.workspace_id).filter(pk=latest.pk).update(used_at=now)
        label = "email" if latest.channel == "email" else "phone"
        method = f"one-time code to {label} on file + {KNOWLEDGE_METHOD[Knowledge(knowledge)]}"
        if request.status in (RequestStatus.RECEIVED, RequestStatus.AWAITING_VERIFICATION):
            request = privacy_request_verified(request=request, method=method, actor_label="requester")
        else:
            privacy_request_note(
                request=request,
                kind="reverified",
                reason=f"Identity confirmed again: {method}",
                actor_label="requester",
            )
            audit_record(
                action=actions.PRIVACY_REQUEST_VERIFIED,
                workspace=request.workspace_id,
                obj=request,
                metadata={"method": method, "again": True},
            )
    if request.type in COPY_TYPES:
        exports.export_queue(request=request)
    return CheckResult.VERIFIED


# --- The browser session that verified -------------------------------------------------


def session_mark_verified(http_request: HttpRequest, privacy_request: PrivacyRequest) -> None:
    """Remember, in this browser's session, that it verified this request just now."""
    now = timezone.now().timestamp()
    marks = dict(http_request.session.get(_SESSION_KEY) or {})
    # Forget marks too old to count, so the session does not grow.
    marks = {k: v for k, v in marks.items() if now - float(v) < 24 * 3600}
    marks[str(privacy_request.pk)] = now
    http_request.session[_SESSION_KEY] = marks


def session_recently_verified(
    http_request: HttpRequest, privacy_request: PrivacyRequest, *, within: timedelta = RECENT
) -> bool:
    """Whether this browser's session verified the request within ``within``."""
    at = (http_request.session.get(_SESSION_KEY) or {}).get(str(privacy_request.pk))
    if at is None:
        return False
    age = timezone.now().timestamp() - float(at)
    return 0 <= age < within.total_seconds()


def subject_is_user(request: PrivacyRequest) -> bool:
    return request.subject_type == SubjectType.USER
