"""Payment links, their verification and checkout. What a provider reports back
takes the one idempotent path into the ledger in ``payments.processing``."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import NOT_COLLECTABLE, Debt, Installment, SettlementOffer
from debtors.services.status import debt_event
from kernel.crypto.blind_index import normalise_phone
from kernel.tenancy.context import db_scope
from payments.models import CheckoutSession, CheckoutStatus, LinkPurpose, LinkStatus, PaymentLink
from payments.providers import get_provider

MAX_VERIFY_FAILURES = 5
LOCKOUT = timedelta(minutes=30)
IP_ATTEMPTS_PER_MINUTE = 20


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("pay_link", args=[token])


@dataclass(frozen=True)
class IssuedLink:
    link: PaymentLink
    token: str
    url: str


def payment_link_create(
    *,
    debt: Debt,
    purpose: str = LinkPurpose.FULL_BALANCE,
    amount_minor: int | None = None,
    installment: Installment | None = None,
    offer: SettlementOffer | None = None,
    expires_at: datetime | None = None,
    actor: Actor = None,
) -> IssuedLink:
    """Create a link (≥128-bit token). A new link for the same purpose replaces the
    active one, so a debt has at most one active link per purpose."""
    if purpose not in LinkPurpose.values:
        raise ValidationError({"purpose": "Unknown purpose."})
    if debt.status in NOT_COLLECTABLE:
        raise ValidationError(
            {"debt": f"The debt is {debt.get_status_display().lower()}; no payment link can be sent."}
        )
    if debt.balance_minor <= 0:
        raise ValidationError({"debt": "Nothing is owed on this debt."})
    now = timezone.now()
    expires_at = expires_at or now + timedelta(days=settings.PAYMENT_LINK_TTL_DAYS)
    if expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    key = str(purpose)
    if purpose == LinkPurpose.CUSTOM:
        if amount_minor is None:
            raise ValidationError({"amount": "A custom link needs an amount."})
        if amount_minor < settings.PAYMENT_MINIMUM_MINOR:
            raise ValidationError({"amount": f"The workspace minimum is {settings.PAYMENT_MINIMUM_MINOR} minor units."})
        if amount_minor > debt.balance_minor:
            raise ValidationError({"amount": "The amount exceeds the balance."})
    elif purpose == LinkPurpose.INSTALLMENT:
        if installment is None or installment.plan.debt_id != debt.pk:
            raise ValidationError({"installment": "Choose an installment of this debt's plan."})
        amount_minor, key = installment.amount_minor - installment.paid_minor, f"installment:{installment.pk}"
    elif purpose == LinkPurpose.SETTLEMENT:
        if offer is None or offer.debt_id != debt.pk or offer.status != "open":
            raise ValidationError({"offer": "Choose an open settlement offer of this debt."})
        amount_minor, key, expires_at = offer.amount_minor, f"settlement:{offer.pk}", min(expires_at, offer.expires_at)
    else:
        amount_minor = None  # the balance at the time of paying
    token = secrets.token_urlsafe(24)  # 192 bits
    with transaction.atomic():
        PaymentLink.objects.for_workspace(debt.workspace_id).filter(
            debt=debt, purpose_key=key, status=LinkStatus.ACTIVE
        ).update(status=LinkStatus.REVOKED, revoked_at=now)
        link = PaymentLink(
            workspace_id=debt.workspace_id,
            debt=debt,
            debtor_id=debt.debtor_id,
            purpose=purpose,
            purpose_key=key,
            installment=installment,
            offer=offer,
            amount_minor=amount_minor,
            currency=debt.currency,
            token_hash=token_hash(token),
            token=token,
            expires_at=expires_at,
            created_by=actor_user(actor),
        )
        link.save(force_insert=True)
        debt_event(
            debt, "payment_link", f"Payment link created ({purpose})", amount_minor=amount_minor, obj=link, actor=actor
        )
        audit_record(
            action=actions.PAYMENT_LINK_CREATED,
            workspace=debt.workspace_id,
            obj=link,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"purpose": purpose},
        )
    return IssuedLink(link, token, link_url(token))


# A message reuses the debt's link while it has at least this long to live, so
# every reminder a debtor holds keeps working; closer to expiry it gets a new one.
REUSE_MIN_REMAINING = timedelta(days=3)


def payment_link_for_message(*, debt: Debt, actor: Actor = None) -> str:
    """The full-balance link to put in a message: the active one, if it has at
    least ``REUSE_MIN_REMAINING`` left and is not locked (its token is kept
    encrypted for this), otherwise a new one — which replaces it."""
    now = timezone.now()
    current = (
        PaymentLink.objects.for_workspace(debt.workspace_id)
        .filter(
            debt=debt,
            purpose_key=str(LinkPurpose.FULL_BALANCE),
            status=LinkStatus.ACTIVE,
            expires_at__gte=now + REUSE_MIN_REMAINING,
        )
        .exclude(locked_until__gt=now)
        .first()
    )
    if current is not None and current.token:
        return link_url(str(current.token))
    return payment_link_create(debt=debt, actor=actor).url


def payment_link_revoke(*, link: PaymentLink, actor: Actor = None) -> PaymentLink:
    with transaction.atomic():
        if (
            PaymentLink.objects.for_workspace(link.workspace_id)
            .filter(pk=link.pk, status=LinkStatus.ACTIVE)
            .update(status=LinkStatus.REVOKED, revoked_at=timezone.now())
        ):
            audit_record(
                action=actions.PAYMENT_LINK_REVOKED,
                workspace=link.workspace_id,
                obj=link,
                actor_user_id=getattr(actor, "pk", None),
            )
        link.refresh_from_db()
    return link


def link_by_token(token: str) -> PaymentLink | None:
    """The link for a token from a URL (readable under RLS only through its hash). A
    closed workspace's links are unknown: a closed agency takes no payments."""
    with db_scope(payment_link_hash=token_hash(token)):
        return (
            PaymentLink.unscoped.select_related("workspace")
            .filter(token_hash=token_hash(token), workspace__closed_at__isnull=True)
            .first()
        )


def link_is_usable(link: PaymentLink, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return link.status == LinkStatus.ACTIVE and link.expires_at > now


class VerificationLocked(Exception):
    pass


def _normalise_dob(value: str) -> date | None:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%m/%d/%Y"):
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            continue
    return None


def link_verify(*, link: PaymentLink, answer: str, ip: str | None = None) -> bool:
    """Check the debtor's answer (date of birth, or the last 4 digits of the phone
    on file). Five wrong answers lock the link for 30 minutes; an address is also
    limited to 20 attempts a minute across links. Raises VerificationLocked."""
    now = timezone.now()
    if link.locked_until and link.locked_until > now:
        raise VerificationLocked
    if ip:
        key = f"payverify:{ip}"
        if int(cache.get_or_set(key, 0, 60) or 0) >= IP_ATTEMPTS_PER_MINUTE:
            raise VerificationLocked
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, 60)
    debtor = link.debtor
    ok = False
    answer = (answer or "").strip()
    dob = _normalise_dob(answer)
    if dob and debtor.date_of_birth and dob.isoformat() == debtor.date_of_birth:
        ok = True
    digits = "".join(ch for ch in answer if ch.isdigit())
    if not ok and len(digits) == 4 and debtor.phone:
        try:
            ok = normalise_phone(debtor.phone).endswith(digits)
        except ValueError:
            ok = False
    with transaction.atomic():
        if ok:
            PaymentLink.objects.for_workspace(link.workspace_id).filter(pk=link.pk).update(
                failed_verifications=0, locked_until=None
            )
        else:
            failures = link.failed_verifications + 1
            locked = now + LOCKOUT if failures >= MAX_VERIFY_FAILURES else None
            PaymentLink.objects.for_workspace(link.workspace_id).filter(pk=link.pk).update(
                failed_verifications=0 if locked else failures, locked_until=locked
            )
            link.failed_verifications, link.locked_until = failures, locked
        audit_record(
            action=actions.PAYMENT_LINK_VERIFIED if ok else actions.PAYMENT_LINK_VERIFICATION_FAILED,
            workspace=link.workspace_id,
            obj=link,
        )
    if not ok and link.locked_until:
        raise VerificationLocked
    return ok


def amount_due(link: PaymentLink) -> int:
    debt = Debt.objects.for_workspace(link.workspace_id).get(pk=link.debt_id)
    if link.amount_minor is None:
        return debt.balance_minor
    return min(link.amount_minor, debt.balance_minor)


def checkout_start(*, link: PaymentLink, success_url: str, cancel_url: str) -> str:
    """Open a provider checkout for the link's amount and return where to send the
    debtor. The idempotency key makes a double click reuse the same session."""
    if not link_is_usable(link):
        raise ValidationError("This payment link is no longer active.")
    amount = amount_due(link)
    if amount <= 0:
        raise ValidationError("Nothing is owed on this link.")
    provider = get_provider()
    idem = f"link-{link.pk}-{amount}-{link.failed_verifications}-{timezone.now():%Y%m%d%H%M}"
    existing = (
        CheckoutSession.objects.for_workspace(link.workspace_id)
        .filter(link=link, idempotency_key=idem, status=CheckoutStatus.OPEN)
        .first()
    )
    if existing is not None and provider.name == "sandbox":
        return reverse("sandbox_checkout", args=[existing.provider_session_id])
    checkout = provider.create_checkout(
        link_id=str(link.pk),
        amount_minor=amount,
        currency=link.currency,
        description=f"Payment to {link.workspace.name}",
        idempotency_key=idem,
        success_url=success_url,
        cancel_url=cancel_url,
    )
    CheckoutSession.objects.for_workspace(link.workspace_id).get_or_create(
        provider_session_id=checkout.session_id,
        defaults={
            "workspace_id": link.workspace_id,
            "link": link,
            "provider": provider.name,
            "amount_minor": amount,
            "currency": link.currency,
            "idempotency_key": idem,
        },
    )
    return checkout.redirect_url


def session_by_ref(ref: str) -> CheckoutSession | None:
    """Find a checkout by the provider's session or payment id, before the workspace
    is known. No join to other tenant tables here: under row-level security they are
    invisible until the workspace is set, and an inner join would hide the row."""
    with db_scope(provider_ref=ref):
        return CheckoutSession.unscoped.select_related("workspace").filter(provider_session_id=ref).first() or (
            CheckoutSession.unscoped.select_related("workspace").filter(provider_payment_id=ref).first()
        )
