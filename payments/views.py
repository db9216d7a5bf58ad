"""The debtor's page (/pay/<token>/) and the sandbox checkout.

Someone holding only the link sees the agency's and creditor's names and a
verification question — no name, contact detail, id number or amount — until they
answer it. Verification is remembered in the session for 30 minutes.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent.models import CHANNEL_PURPOSE
from consent.services import consent_current, consent_proof, consent_record, proof_csv
from debtors.models import Debt, Installment, InstallmentStatus, OfferStatus, PlanStatus, SettlementOffer
from debtors.selectors import balance_breakdown
from debtors.services.disputes import dispute_open
from debtors.services.money import MoneyError, from_minor, to_minor
from kernel.context import update_request_info
from kernel.tenancy import workspace_context
from payments import services
from payments.models import CheckoutSession, LinkPurpose, PaymentLink
from payments.processing import payment_process
from payments.providers.base import ProviderPayment

VERIFIED_FOR_SECONDS = 30 * 60
CHANNELS = ("email", "sms", "call", "whatsapp", "letter")


def _link_or_404(token: str) -> PaymentLink:
    link = services.link_by_token(token)
    if link is None:
        raise Http404("Unknown link")
    return link


def _verified(request: HttpRequest, link: PaymentLink) -> bool:
    at = request.session.get(f"pay_verified:{link.pk}")
    return at is not None and time.time() - float(at) < VERIFIED_FOR_SECONDS


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    # The token must not leak to other sites. Not "no-referrer": with it Chromium sends
    # "Origin: null" on the page's own form posts and Django's CSRF check refuses them.
    response["Referrer-Policy"] = "same-origin"
    return response


def pay_link(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    with workspace_context(link.workspace):
        debt = Debt.objects.select_related("client", "debtor").get(pk=link.debt_id)
        base = {"link": link, "token": token, "agency": link.workspace.name, "creditor": debt.client.name}
        if not services.link_is_usable(link):
            return _private(render(request, "payments/link_inactive.html", base, status=410))
        if not _verified(request, link):
            return _private(render(request, "payments/verify.html", {**base, "locked": bool(link.locked_until)}))
        return _private(render(request, "payments/debtor_home.html", {**base, **_debtor_context(link, debt)}))


def _debtor_context(link: PaymentLink, debt: Debt) -> dict[str, Any]:
    bd = balance_breakdown(debt=debt)
    plan_next = (
        Installment.objects.filter(plan__debt=debt, plan__status=PlanStatus.ACTIVE)
        .exclude(status=InstallmentStatus.PAID)
        .order_by("seq")
        .first()
    )
    offer = SettlementOffer.objects.filter(debt=debt, status=OfferStatus.OPEN).order_by("-created_at").first()
    state = consent_current(workspace=link.workspace, subject_type="debtor", subject_id=str(debt.debtor_id))
    return {
        "debt": debt,
        "balance": from_minor(debt.balance_minor, debt.currency),
        "breakdown": {k: from_minor(abs(v), debt.currency) for k, v in bd.items()},
        "due_now": from_minor(services.amount_due(link), debt.currency),
        "link_amount_fixed": link.amount_minor is not None,
        "next_installment": plan_next,
        "next_installment_amount": from_minor(plan_next.amount_minor - plan_next.paid_minor, debt.currency)
        if plan_next
        else None,
        "offer": offer,
        "offer_amount": from_minor(offer.amount_minor, debt.currency) if offer else None,
        "preferences": [(c, state.get(CHANNEL_PURPOSE[c]) != "withdraw") for c in CHANNELS],
        "cease": state.get("all_contact") == "withdraw",
        "disputed": debt.status == "disputed",
    }


@require_POST
def pay_verify(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    with workspace_context(link.workspace):
        try:
            ok = services.link_verify(
                link=link, answer=request.POST.get("answer", ""), ip=request.META.get("REMOTE_ADDR")
            )
        except services.VerificationLocked:
            messages.error(request, _("Too many attempts. For your security this link is locked for 30 minutes."))
            return redirect("pay_link", token=token)
        if ok:
            request.session.cycle_key()
            request.session[f"pay_verified:{link.pk}"] = time.time()
        else:
            messages.error(request, _("That does not match our records. Please try again."))
    return redirect("pay_link", token=token)


@require_POST
def pay_checkout(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    with workspace_context(link.workspace):
        option = request.POST.get("option", "link")
        target = link
        debt = Debt.objects.get(pk=link.debt_id)
        try:
            if option == "installment":
                inst = (
                    Installment.objects.filter(plan__debt=debt, plan__status=PlanStatus.ACTIVE)
                    .exclude(status=InstallmentStatus.PAID)
                    .order_by("seq")
                    .first()
                )
                if inst is None:
                    raise ValidationError(_("There is no installment due."))
                target = services.payment_link_create(
                    debt=debt, purpose=LinkPurpose.INSTALLMENT, installment=inst, expires_at=link.expires_at
                ).link
            elif option == "settlement":
                offer = (
                    SettlementOffer.objects.filter(debt=debt, status=OfferStatus.OPEN).order_by("-created_at").first()
                )
                target = services.payment_link_create(
                    debt=debt, purpose=LinkPurpose.SETTLEMENT, offer=offer, expires_at=link.expires_at
                ).link
            elif option == "custom":
                try:
                    amount = to_minor(request.POST.get("amount", ""), debt.currency)
                except MoneyError as exc:
                    raise ValidationError(str(exc)) from None
                target = services.payment_link_create(
                    debt=debt, purpose=LinkPurpose.CUSTOM, amount_minor=amount, expires_at=link.expires_at
                ).link
            done = request.build_absolute_uri(reverse("pay_done", args=[token]))
            url = services.checkout_start(
                link=target, success_url=done, cancel_url=request.build_absolute_uri(reverse("pay_link", args=[token]))
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("pay_link", token=token)
    request.session["pay_return_token"] = token
    return HttpResponseRedirect(url)


def pay_done(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    with workspace_context(link.workspace):
        debt = Debt.objects.select_related("client").get(pk=link.debt_id)
        last = CheckoutSession.objects.filter(link__debt=debt, status="completed").order_by("-completed_at").first()
        return _private(
            render(
                request,
                "payments/receipt.html",
                {
                    "token": token,
                    "agency": link.workspace.name,
                    "creditor": debt.client.name,
                    "debt": debt,
                    "session": last,
                    "paid": from_minor(last.amount_minor, last.currency) if last else None,
                    "balance": from_minor(debt.balance_minor, debt.currency),
                },
            )
        )


@require_POST
def pay_dispute(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    with workspace_context(link.workspace):
        debt = Debt.objects.get(pk=link.debt_id)
        try:
            dispute_open(
                debt=debt,
                reason=request.POST.get("reason", "other"),
                details=request.POST.get("details", "")[:5000],
                source="debtor",
            )
            messages.success(
                request,
                _("Your dispute was received. We have paused collection on this account while we look into it."),
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("pay_link", token=token)


@require_POST
def pay_preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The debtor's contact preferences; a withdrawal stops that channel at once."""
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    with workspace_context(link.workspace):
        debtor_id = str(link.debtor_id)
        state = consent_current(workspace=link.workspace, subject_type="debtor", subject_id=debtor_id)
        changed = 0
        for channel in CHANNELS:
            purpose = CHANNEL_PURPOSE[channel]
            wanted = "grant" if request.POST.get(channel) == "on" else "withdraw"
            current = "withdraw" if state.get(purpose) == "withdraw" else "grant"
            if wanted != current:
                consent_record(
                    workspace=link.workspace,
                    subject_type="debtor",
                    subject_id=debtor_id,
                    purpose=purpose,
                    action=wanted,
                    source="debtor_page",
                    lawful_basis="legitimate_interests",
                )
                changed += 1
        messages.success(request, _("Your contact preferences were saved.") if changed else _("No changes."))
    return redirect("pay_link", token=token)


def pay_privacy(request: HttpRequest, token: str) -> HttpResponse:
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    return _private(
        render(
            request,
            "payments/privacy_rights.html",
            {
                "token": token,
                "agency": link.workspace.name,
                "jurisdiction": link.workspace.get_jurisdiction_display(),
                "workspace_slug": link.workspace.slug,
            },
        )
    )


def _session_debt_id(session: CheckoutSession) -> Any:
    with workspace_context(session.workspace):
        return PaymentLink.objects.filter(pk=session.link_id).values_list("debt_id", flat=True).first()


def sandbox_checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The sandbox provider's own checkout page. 'Pay' completes the payment through
    payment_process, exactly like a provider webhook would."""
    session = services.session_by_ref(session_id)
    if session is None or session.provider != "sandbox":
        raise Http404("Unknown checkout")
    token = request.session.get("pay_return_token", "")
    # Only the debtor who verified on this link's page (in this browser) may pay here.
    link = services.link_by_token(token) if token else None
    if link is None or link.debt_id != _session_debt_id(session) or not _verified(request, link):
        raise Http404("Unknown checkout")
    if request.method == "POST":
        update_request_info(source="web")
        if request.POST.get("outcome") == "cancel":
            return redirect("pay_link", token=token) if token else redirect("/")
        result = payment_process(
            ProviderPayment(
                session.provider_session_id,
                f"sbx_pi_{secrets.token_hex(8)}" if not session.provider_payment_id else session.provider_payment_id,
                str(session.link_id),
                session.amount_minor,
                session.currency,
                True,
            ),
            provider="sandbox",
        )
        if token:
            return redirect("pay_done", token=token)
        return HttpResponse(result.note)
    return render(
        request,
        "payments/sandbox_checkout.html",
        {
            "session": session,
            "amount": from_minor(session.amount_minor, session.currency),
            "agency": session.workspace.name,
        },
    )


def pay_consent_proof(request: HttpRequest, token: str) -> HttpResponse:
    """The debtor's own proof-of-consent export (after verification)."""
    link = _link_or_404(token)
    if not _verified(request, link):
        return redirect("pay_link", token=token)
    with workspace_context(link.workspace):
        rows = consent_proof(workspace=link.workspace, subject_type="debtor", subject_id=str(link.debtor_id))
    response = HttpResponse(proof_csv(rows), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="my-consent-records.csv"'
    return _private(response)
