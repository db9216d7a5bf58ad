"""Workspace pages for payments: the "Payment links" section of the debt page, the
reconciliation page and the remittance statement.

Views are thin: they find the row through a workspace-scoped lookup (404 when it is
missing or another workspace's), call one service or selector, and render. The
link actions answer htmx with the refreshed section and plain posts with a page or
a redirect, so everything also works without JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import stripe
from django import forms
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Client, Membership, User, Workspace
from accounts.roles import can
from audit import actions
from audit.services import record_personal_data_access
from communications.services import communication_send
from consent.services import ContactRefused
from debtors.decorators import load_debt
from debtors.models import NOT_COLLECTABLE, Debt
from debtors.services.money import MoneyError, from_minor, to_minor
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view
from payments import services
from payments.models import LinkPurpose, LinkStatus, PaymentLink
from payments.qr import SVG_CONTENT_TYPE, qr_svg
from payments.reconciliation_services import reconciliation_exception_resolve, reconciliation_run_now
from payments.remittance_export import REMITTANCE_HEADER, remittance_csv_line, remittance_export_record
from payments.selectors import (
    debt_payment_link_get,
    link_email_templates,
    reconciliation_exception_get,
    reconciliation_overview,
)
from reporting.formatting import format_bps
from reporting.remittance import remittance_statement

LINKS_SHOWN = 20


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


# --- Payment links on the debt page --------------------------------------------------


class PaymentLinkForm(forms.Form):
    amount = forms.CharField(
        required=False,
        max_length=20,
        label="Amount (leave blank for the full balance)",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The debt page has other forms with an "amount" field: keep the ids apart.
        kwargs.setdefault("auto_id", "link_%s")
        super().__init__(*args, **kwargs)


def _may_work_links(membership: Membership) -> bool:
    return can(membership, "debts.work") and membership.client_id is None


def _link_row(link: PaymentLink, now: datetime) -> dict[str, Any]:
    usable = services.link_is_usable(link, now)
    status = LinkStatus.EXPIRED if link.status == LinkStatus.ACTIVE and not usable else link.status
    return {
        "link": link,
        "purpose": link.get_purpose_display(),
        "amount": f"{link.currency} {from_minor(link.amount_minor, link.currency)}"
        if link.amount_minor is not None
        else "balance",
        "status": status,
        "status_label": LinkStatus(status).label,
        "active": usable,
    }


def debt_payment_links(
    *,
    workspace: Workspace,
    membership: Membership,
    debt: Debt,
    form: PaymentLinkForm | None = None,
    shown: PaymentLink | None = None,
    shown_url: str = "",
    notice: str = "",
    error: str = "",
) -> dict[str, Any] | None:
    """What the debt page's "Payment links" section shows, or None for members who
    may not work the debt (auditors, client users): they do not see the section."""
    if not _may_work_links(membership):
        return None
    now = timezone.now()
    links = PaymentLink.objects.for_workspace(workspace).filter(debt=debt).order_by("-created_at")[:LINKS_SHOWN]
    cannot_create = ""
    if debt.status in NOT_COLLECTABLE:
        cannot_create = f"The debt is {debt.get_status_display().lower()}; no payment link can be sent."
    elif debt.balance_minor <= 0:
        cannot_create = "Nothing is owed on this debt."
    return {
        "rows": [_link_row(link, now) for link in links],
        "email_templates": link_email_templates(workspace=workspace),
        "form": form or PaymentLinkForm(),
        "shown_id": str(shown.pk) if shown is not None else "",
        "shown_url": shown_url,
        "notice": notice,
        "error": error,
        "cannot_create": cannot_create,
    }


def _usable_link(debt: Debt, link_id: Any) -> PaymentLink:
    """A link of this debt that a debtor could still pay through: showing, sending
    or printing any other would hand out a dead link."""
    link = debt_payment_link_get(debt=debt, link_id=link_id)
    if not services.link_is_usable(link):
        raise Http404("This link is no longer active")
    return link


def _section(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, **kwargs: Any
) -> HttpResponse:
    debt.refresh_from_db()
    context = {
        "debt": debt,
        "payment_links": debt_payment_links(workspace=workspace, membership=membership, debt=debt, **kwargs),
    }
    response = render(request, "payments/_debt_links.html", context)
    response["Cache-Control"] = "no-store"  # it may hold a link URL
    return response


def _link_page(request: HttpRequest, debt: Debt, link: PaymentLink, url: str, heading: str) -> HttpResponse:
    """The no-JavaScript answer to "create" and "show": the link on a page of its own."""
    response = render(request, "payments/link_page.html", {"debt": debt, "link": link, "url": url, "heading": heading})
    response["Cache-Control"] = "no-store"
    return response


def _expiry(workspace: Workspace, day: date | None) -> datetime | None:
    # The end of the chosen day in the workspace's time zone.
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(workspace.timezone)) if day else None


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def payment_link_create_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt
) -> HttpResponse:
    form = PaymentLinkForm(request.POST)
    issued = None
    if form.is_valid():
        amount_text = form.cleaned_data["amount"].strip()
        try:
            amount = to_minor(amount_text, debt.currency) if amount_text else None
        except MoneyError as exc:
            form.add_error("amount", str(exc))
        else:
            try:
                issued = services.payment_link_create(
                    debt=debt,
                    purpose=LinkPurpose.CUSTOM if amount is not None else LinkPurpose.FULL_BALANCE,
                    amount_minor=amount,
                    expires_at=_expiry(workspace, form.cleaned_data["expires_on"]),
                    actor=_user(request),
                )
            except ValidationError as exc:
                fields = {"amount": "amount", "expires_at": "expires_on"}
                for key, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
                    form.add_error(fields.get(key), errors)
    if _is_htmx(request):
        if issued is None:
            return _section(request, workspace, membership, debt, form=form)
        return _section(
            request,
            workspace,
            membership,
            debt,
            shown=issued.link,
            shown_url=issued.url,
            notice="Payment link created.",
        )
    if issued is None:
        messages.error(
            request,
            "The payment link was not created: " + " ".join(str(e) for errs in form.errors.values() for e in errs),
        )
        return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)
    return _link_page(request, debt, issued.link, issued.url, "Payment link created")


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def payment_link_show(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, link_id: str
) -> HttpResponse:
    """Show an active link's URL again (its token is stored encrypted); audited."""
    link = _usable_link(debt, link_id)
    record_personal_data_access(subject=link, fields=["token"], purpose="agent shows payment link")
    url = services.link_url(link.token)
    if _is_htmx(request):
        return _section(request, workspace, membership, debt, shown=link, shown_url=url)
    return _link_page(request, debt, link, url, "Payment link")


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def payment_link_revoke_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, link_id: str
) -> HttpResponse:
    link = services.payment_link_revoke(link=debt_payment_link_get(debt=debt, link_id=link_id), actor=_user(request))
    notice = (
        "Payment link revoked."
        if link.status == LinkStatus.REVOKED
        else f"The link is {link.get_status_display().lower()}."
    )
    if _is_htmx(request):
        return _section(request, workspace, membership, debt, notice=notice)
    messages.success(request, notice)
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def payment_link_send(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, link_id: str
) -> HttpResponse:
    """Email the link to the debtor through the contact rules (communications.services):
    a refusal (outside hours, opted out, disputed…) is recorded there and shown here."""
    link = _usable_link(debt, link_id)
    template = request.POST.get("template", "")
    notice = error = ""
    if template not in link_email_templates(workspace=workspace):
        error = "Choose an email template that includes the payment link."
    else:
        try:
            communication_send(
                debt=debt,
                channel="email",
                template_name=template,
                actor=_user(request),
                payment_link=services.link_url(link.token),
            )
            notice = "Email with the payment link queued to the debtor."
        except ContactRefused as exc:
            error = "Not sent — " + " ".join(r.message for r in exc.decision.reasons) + " The refusal was recorded."
        except ValidationError as exc:
            error = "Not sent — " + " ".join(exc.messages)
    if _is_htmx(request):
        return _section(request, workspace, membership, debt, notice=notice, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)


@require_GET
@workspace_view("debts.work")
@load_debt(workable=True)
def payment_link_qr(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, link_id: str
) -> HttpResponse:
    """The link's URL as an SVG QR code, to print on a letter; audited as a download."""
    link = _usable_link(debt, link_id)
    record_personal_data_access(
        subject=link, fields=["token"], purpose="payment link QR code", kind=actions.PERSONAL_DATA_DOWNLOAD
    )
    response = HttpResponse(qr_svg(services.link_url(link.token)), content_type=SVG_CONTENT_TYPE)
    safe_ref = re.sub(r"[^A-Za-z0-9_-]+", "-", debt.reference).strip("-") or "debt"
    response["Content-Disposition"] = f'inline; filename="payment-link-{safe_ref}.svg"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Reconciliation -------------------------------------------------------------------


def _staff_only(membership: Membership) -> None:
    # Reconciliation spans every client's money: not for client-scoped logins.
    if membership.client_id is not None:
        raise PermissionDenied


@require_http_methods(["GET", "HEAD", "POST"])
@workspace_view("debts.view_all", write_perm="clients.manage")
def reconciliation_page(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Runs and open exceptions; POST ("Run now") reconciles the workspace at once."""
    _staff_only(membership)
    if request.method == "POST":
        try:
            run = reconciliation_run_now(workspace=workspace, actor=_user(request))
        except (ImproperlyConfigured, ValueError, stripe.StripeError) as exc:
            messages.error(request, f"Reconciliation failed: {exc}")
        else:
            messages.success(
                request,
                f"Reconciliation finished: {run.sessions_checked} checked, {run.payments_posted} posted, "
                f"{run.links_expired} links expired, {run.exceptions_found} exceptions.",
            )
        return redirect("reconciliation", workspace_slug=workspace.slug)
    context = {**reconciliation_overview(workspace=workspace), "can_run": can(membership, "clients.manage")}
    return render(request, "payments/reconciliation.html", context)


@require_POST
@workspace_view("debts.view_all", write_perm="clients.manage")
def reconciliation_exception_resolve_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, exception_id: str
) -> HttpResponse:
    _staff_only(membership)
    exception = reconciliation_exception_get(workspace=workspace, exception_id=exception_id)
    if reconciliation_exception_resolve(exception=exception, actor=_user(request)):
        messages.success(request, "Exception marked resolved.")
    return redirect("reconciliation", workspace_slug=workspace.slug)


# --- Remittance ---------------------------------------------------------------------------


def _remittance_client(membership: Membership) -> Client | None:
    # A client-scoped login sees only its own client's statement.
    return membership.client if membership.client_id is not None else None


def _month_shift(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7]) + months
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return f"{year:04d}-{month:02d}"


def _totals(rows: list[dict[str, Any]]) -> dict[str, str] | None:
    """One total line when every row is in the same currency (amounts in different
    currencies are never added up)."""
    currencies = {r["currency"] for r in rows}
    if len(rows) < 2 or len(currencies) != 1:
        return None
    (currency,) = currencies
    return {
        "currency": currency,
        **{k: from_minor(sum(r[f"{k}_minor"] for r in rows), currency) for k in ("collected", "commission", "net")},
    }


@workspace_view("debts.view_all")
def remittance_page(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    client = _remittance_client(membership)
    period = request.GET.get("period", "").strip()
    try:
        statement = remittance_statement(workspace=workspace, period=period, client=client)
    except ValueError as exc:
        error: dict[str, Any] = {"error": f"{exc}", "period": period, "statement": None}
        return render(request, "payments/remittance.html", error, status=400)
    context: dict[str, Any] = {
        "statement": statement,
        "rows": [{**r, "rate": format_bps(r["commission_rate_bps"])} for r in statement["clients"]],
        "period": statement["period"],
        "previous": _month_shift(statement["period"], -1),
        "next": _month_shift(statement["period"], 1),
        "totals": _totals(statement["clients"]),
        "client": client,
    }
    return render(request, "payments/remittance.html", context)


@workspace_view("debts.view_all")
def remittance_csv(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponseBase:
    """The statement as CSV (per client: collected, commission, net — no debtor
    data). Streamed; audited before the first byte."""
    client = _remittance_client(membership)
    try:
        statement = remittance_statement(
            workspace=workspace, period=request.GET.get("period", "").strip(), client=client
        )
    except ValueError as exc:
        return HttpResponse(f"period: {exc}", status=400, content_type="text/plain")
    period, rows = statement["period"], statement["clients"]
    remittance_export_record(workspace=workspace, period=period, client=client, rows=len(rows), actor=_user(request))

    def lines() -> Iterator[str]:
        writer = csv_line_writer()
        yield writer.writerow(REMITTANCE_HEADER)
        for row in rows:
            yield writer.writerow(remittance_csv_line(period, row))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="remittance-{workspace.slug}-{period}.csv"'
    response["Cache-Control"] = "no-store"
    return response
