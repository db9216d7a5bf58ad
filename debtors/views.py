"""The agent workspace: work queue, debt page, quick actions, placements, export.

Views are thin: parse input, call one service or selector, render. Actions answer
htmx requests with the refreshed debt panel (field errors inline) and plain form
posts with a redirect, so every action also works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership, User, Workspace
from accounts.roles import Role, can
from accounts.selectors import clients_list, members_list
from audit import actions
from audit.services import record_personal_data_access
from debtors import forms as f
from debtors import selectors
from debtors.decorators import load_debt
from debtors.models import ALLOWED_TRANSITIONS, Debt, Dispute, Document, SavedView
from debtors.panels import debt_actions, debt_panels
from debtors.queue import EXPORT_HEADER, queue, queue_export_line, queue_export_rows
from debtors.services import debts as debt_services
from debtors.services import disputes, ledger, offers, plans, promises, records
from debtors.services.data_access import debts_export_record
from debtors.services.debtors import ERASED_MESSAGE, debtor_erased_at, debtor_review_minor
from debtors.services.money import MoneyError, from_minor, to_minor
from debtors.services.saved_filters import saved_view_query, saved_view_save
from kernel.crypto.keyring import SubjectKeyShredded
from kernel.csv_stream import csv_line_writer
from kernel.errors import ActionRefused
from kernel.tenancy.decorators import workspace_view

DEBTOR_DETAIL_FIELDS = ["full_name", "email", "phone", "address", "date_of_birth", "national_id"]
# Quick actions that record something about the person (under their data key): not
# offered, and refused, once the person's data was erased. Money, status and the
# arrangements stay: erasure keeps the books.
PERSON_ACTIONS = frozenset({"note", "call", "dispute"})


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _agents(workspace: Workspace) -> list[Membership]:
    return [
        m
        for m in members_list(workspace=workspace)
        if m.role in (Role.AGENT, Role.MANAGER, Role.ADMIN, Role.OWNER) and m.client_id is None
    ]


# --- Queue ------------------------------------------------------------------


@workspace_view("workspace.view")
def debt_queue(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    show_agent = can(membership, "debts.view_all") and membership.client_id is None
    agents = _agents(workspace) if show_agent else []
    form = f.QueueFilterForm(
        request.GET or None, clients=clients_list(workspace=workspace), agents=agents, show_agent=show_agent
    )
    rows, next_cursor = queue(
        workspace=workspace, membership=membership, filters=form.filters(), cursor=request.GET.get("cursor", "")
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    saved = SavedView.objects.for_workspace(workspace).filter(user=request.user).order_by("name")
    return render(
        request,
        "debtors/queue.html",
        {
            "form": form,
            "rows": rows,
            "next_cursor": next_cursor,
            "query": query.urlencode(),
            "is_first_page": not request.GET.get("cursor"),
            "saved_views": saved,
            "agents": agents,
            "can_assign": can(membership, "debts.assign") and membership.client_id is None,
            "show_agent": show_agent,
        },
    )


@require_POST
@workspace_view("workspace.view")
def saved_view_create(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    name, query = (request.POST.get("name") or "").strip(), request.POST.get("query") or ""
    if name:
        view = saved_view_save(workspace=workspace, user=_user(request), name=name, query=query)
        messages.success(request, f"Saved view “{view.name}”.")
    query = saved_view_query(query)  # back to the queue with the filters it kept
    return redirect(reverse("debt_queue", args=[workspace.slug]) + (f"?{query}" if query else ""))


@require_POST
@workspace_view("debts.assign")
def bulk_assign(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    ids = request.POST.getlist("debt")
    agent_id = request.POST.get("agent") or ""
    agent = None
    if agent_id:
        member = next((m for m in _agents(workspace) if str(m.user_id) == agent_id), None)
        if member is None:
            messages.error(request, "Choose an agent of this workspace.")
            return redirect("debt_queue", workspace_slug=workspace.slug)
        agent = member.user
    debts = list(selectors.debts_visible_to(workspace=workspace, membership=membership).filter(pk__in=ids[:500]))
    for debt in debts:
        debt_services.debt_assign(debt=debt, agent=agent, actor=_user(request))
    messages.success(
        request,
        f"{len(debts)} debt{'s' if len(debts) != 1 else ''} {'assigned to ' + agent.email if agent else 'unassigned'}.",
    )
    return redirect(reverse("debt_queue", args=[workspace.slug]) + "?" + request.POST.get("query", ""))


@workspace_view("workspace.view")
def queue_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    """The queue as CSV, with the current filters; streamed and audited. Debt data
    only — no contact details."""
    form = f.QueueFilterForm(request.GET or None, clients=clients_list(workspace=workspace), agents=_agents(workspace))
    rows = queue_export_rows(workspace=workspace, membership=membership, filters=form.filters())
    debts_export_record(
        workspace=workspace, rows=len(rows), filters=request.GET.keys(), debtor_ids=(d.debtor_id for d in rows)
    )

    def stream() -> Iterator[str]:
        w = csv_line_writer()
        yield w.writerow(EXPORT_HEADER)
        for debt in rows:
            yield w.writerow(queue_export_line(debt))

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="debts-{workspace.slug}-{timezone.localdate()}.csv"'
    return response


# --- Debt page ------------------------------------------------------------------


def debt_panel_context(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, **forms: Any
) -> dict[str, Any]:
    debt.refresh_from_db()
    can_work = can(membership, "debts.work") and membership.client_id is None
    open_dispute = Dispute.objects.for_workspace(workspace).filter(debt=debt, status="open").first()
    # Sections other apps register (payment links, consent & contact…); None hides one.
    registered: dict[str, Any] = {}
    shown: list[str] = []
    for panel in debt_panels():
        value = panel.build(workspace=workspace, membership=membership, debt=debt, **forms.get(panel.name, {}))
        registered[panel.context_name] = value
        if value is not None:
            shown.append(panel.template)
    actions = _ordered_actions()
    erased_at = debtor_erased_at(workspace_id=workspace.pk, debtor_id=debt.debtor_id)
    if erased_at is not None:
        actions = {name: action for name, action in actions.items() if name not in PERSON_ACTIONS}
    refused = forms.get(forms.get("active", "")) if erased_at is not None else None
    return {
        "debt": debt,
        "breakdown": {k: from_minor(abs(v), debt.currency) for k, v in selectors.balance_breakdown(debt=debt).items()},
        "balance": from_minor(debt.balance_minor, debt.currency),
        "ledger": list(selectors.ledger_for_debt(debt=debt)),
        "timeline": list(selectors.timeline_for_debt(debt=debt, limit=100)),
        "parties": list(debt.parties.select_related("debtor")),
        "documents": list(Document.objects.for_workspace(workspace).filter(debt=debt).order_by("-uploaded_at")),
        "open_dispute": open_dispute,
        "next_statuses": sorted(ALLOWED_TRANSITIONS[debt.status]),
        "can_work": can_work,
        "can_assign": can(membership, "debts.assign") and membership.client_id is None,
        # Revealing is a POST (audited): only members who work debts may do it.
        "can_see_contacts": selectors.can_see_contact_details(membership) and can(membership, "debts.work"),
        "agents": _agents(workspace) if can(membership, "debts.assign") else [],
        "forms": {name: forms.get(name) or form_cls() for name, (form_cls, _, _) in actions.items()},
        "active_action": forms.get("active", ""),
        # When the person's data was erased: the notice, and the refusal of an action
        # that is no longer offered (its form is not shown).
        "debtor_erased_at": erased_at,
        "erased_refusal": " ".join(refused.non_field_errors())
        if refused is not None and forms.get("active") in PERSON_ACTIONS
        else "",
        "panels": shown,
        **registered,
    }


@workspace_view("workspace.view")
@load_debt
def debt_detail(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    return render(request, "debtors/debt_detail.html", debt_panel_context(request, workspace, membership, debt))


@require_POST
@workspace_view("debts.work")
@load_debt
def debtor_reveal(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """Show the debtor's details; every reveal is recorded in the audit trail."""
    if not selectors.can_see_contact_details(membership):
        raise PermissionDenied
    debtor = debt.debtor
    record_personal_data_access(subject=debtor, fields=DEBTOR_DETAIL_FIELDS, purpose="agent reveal on debt page")
    return render(request, "debtors/_debtor_details.html", {"debtor": debtor, "debt": debt})


def _amount(form: Any, field: str, currency: str) -> int:
    try:
        return to_minor(str(form.cleaned_data[field]), currency)
    except MoneyError as exc:
        form.add_error(field, str(exc))
        raise ValidationError({}) from None


Action = Callable[[Any, Debt, User], Any]


def _do_payment(form: Any, debt: Debt, user: User) -> Any:
    return ledger.payment_record(
        debt=debt,
        amount_minor=_amount(form, "amount", debt.currency),
        paid_on=form.cleaned_data["paid_on"],
        method=form.cleaned_data["method"],
        reference=form.cleaned_data["reference"],
        actor=user,
    )


def _do_note(form: Any, debt: Debt, user: User) -> Any:
    return records.note_add(debt=debt, body=form.cleaned_data["body"], actor=user)


def _do_promise(form: Any, debt: Debt, user: User) -> Any:
    return promises.promise_create(
        debt=debt, amount_minor=_amount(form, "amount", debt.currency), due_on=form.cleaned_data["due_on"], actor=user
    )


def _do_plan(form: Any, debt: Debt, user: User) -> Any:
    d = form.cleaned_data
    return plans.plan_create(
        debt=debt,
        total_minor=_amount(form, "total", debt.currency),
        count=d["installments"],
        frequency=d["frequency"],
        first_due=d["first_due"],
        actor=user,
    )


def _do_offer(form: Any, debt: Debt, user: User) -> Any:
    expires = datetime.combine(form.cleaned_data["expires_on"], time(23, 59), tzinfo=timezone.get_current_timezone())
    return offers.offer_create(
        debt=debt, amount_minor=_amount(form, "amount", debt.currency), expires_at=expires, actor=user
    )


def _do_dispute(form: Any, debt: Debt, user: User) -> Any:
    return disputes.dispute_open(
        debt=debt, reason=form.cleaned_data["reason"], details=form.cleaned_data["details"], actor=user
    )


def _do_resolve(form: Any, debt: Debt, user: User) -> Any:
    dispute = Dispute.objects.for_workspace(debt.workspace_id).filter(debt=debt, status="open").first()
    if dispute is None:
        raise ValidationError({"outcome": "There is no open dispute."})
    return disputes.dispute_resolve(
        dispute=dispute,
        upheld=form.cleaned_data["outcome"] == "upheld",
        resolution=form.cleaned_data["resolution"],
        actor=user,
    )


def _do_status(form: Any, debt: Debt, user: User) -> Any:
    return debt_services.debt_change_status(
        debt=debt, status=form.cleaned_data["status"], reason=form.cleaned_data["reason"], actor=user
    )


ACTIONS: dict[str, tuple[type[Any], Action, str]] = {
    "payment": (f.PaymentForm, _do_payment, "Payment recorded."),
    "note": (f.NoteForm, _do_note, "Note added."),
    "promise": (f.PromiseForm, _do_promise, "Promise to pay recorded."),
    "plan": (f.PlanForm, _do_plan, "Payment plan created."),
    "offer": (f.OfferForm, _do_offer, "Settlement offer made."),
    "dispute": (f.DisputeForm, _do_dispute, "Dispute opened; the debt is on hold."),
    "resolve": (f.ResolveDisputeForm, _do_resolve, "Dispute resolved."),
    "status": (f.StatusForm, _do_status, "Status changed."),
}


def _ordered_actions() -> dict[str, tuple[type[Any], Action, str]]:
    """The debt page's own quick actions with registered ones placed where they
    asked to be (``DebtAction.after``), so the list reads the same whatever app
    contributes an action."""
    ordered: dict[str, tuple[type[Any], Action, str]] = {}
    registered = list(debt_actions().values())
    for name, action in ACTIONS.items():
        ordered[name] = action
        for extra in registered:
            if extra.after == name:
                ordered[extra.name] = (extra.form_class, extra.run, extra.done)
    for extra in registered:
        ordered.setdefault(extra.name, (extra.form_class, extra.run, extra.done))
    return ordered


def _quick_action(name: str) -> tuple[type[Any], Action, str]:
    """(form class, runner, success message) of a quick action: the debt page's
    own, or one another app registered."""
    registered = debt_actions()
    if name in registered:
        return registered[name].form_class, registered[name].run, registered[name].done
    if name in ACTIONS:
        return ACTIONS[name]
    raise Http404("No such action")


def _run_action(form: Any, run: Action, debt: Debt, user: User) -> bool:
    """Run a valid action; a refusal or a service's validation errors go onto the
    form, so the panel shows them next to the fields."""
    try:
        run(form, debt, user)
    except ActionRefused as exc:
        form.add_error(None, exc.user_message)
        return False
    except SubjectKeyShredded:  # an action of another app writing under an erased person's key
        form.add_error(None, ERASED_MESSAGE)
        return False
    except ValidationError as exc:
        for field, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
            form.add_error(field if field in form.fields else None, errs)
        return False
    return True


@require_POST
@workspace_view("debts.work")
@load_debt
def debt_action(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, action: str
) -> HttpResponse:
    if membership.client_id is not None:
        raise Http404("No such action")
    form_cls, run, done = _quick_action(action)
    form = form_cls(request.POST)
    if action in PERSON_ACTIONS and debtor_erased_at(workspace_id=workspace.pk, debtor_id=debt.debtor_id):
        # Refused before any service runs (another app's action included): nothing more
        # is recorded about an erased person.
        form.is_valid()
        form.add_error(None, ERASED_MESSAGE)
        ok = False
    else:
        ok = form.is_valid() and _run_action(form, run, debt, _user(request))
    if ok:
        messages.success(request, done)
    if request.headers.get("HX-Request"):
        ctx = debt_panel_context(
            request, workspace, membership, debt, **({} if ok else {action: form, "active": action})
        )
        return render(request, "debtors/_debt_panel.html", ctx)
    if ok:
        return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)
    ctx = debt_panel_context(request, workspace, membership, debt, **{action: form, "active": action})
    return render(request, "debtors/debt_detail.html", ctx, status=400)


@require_POST
@workspace_view("debts.assign")
@load_debt
def debt_assign(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    agent_id = request.POST.get("agent") or ""
    agent = next((m.user for m in _agents(workspace) if str(m.user_id) == agent_id), None)
    if agent_id and agent is None:
        raise Http404("No such agent")
    debt_services.debt_assign(debt=debt, agent=agent, actor=_user(request))
    messages.success(request, f"Assigned to {agent.email}." if agent else "Unassigned.")
    if request.headers.get("HX-Request"):
        return render(request, "debtors/_debt_panel.html", debt_panel_context(request, workspace, membership, debt))
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)


@workspace_view("workspace.view")
@load_debt
def plan_preview(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """The schedule a plan would have (htmx, as the agent types)."""
    form = f.PlanForm(request.GET)
    schedule: list[tuple[Any, str]] = []
    error = ""
    if form.is_valid():
        try:
            total = to_minor(str(form.cleaned_data["total"]), debt.currency)
            schedule = [
                (d, from_minor(a, debt.currency))
                for d, a in plans.plan_schedule(
                    total_minor=total,
                    count=form.cleaned_data["installments"],
                    frequency=form.cleaned_data["frequency"],
                    first_due=form.cleaned_data["first_due"],
                )
            ]
        except (ValidationError, MoneyError) as exc:
            error = " ".join(getattr(exc, "messages", [str(exc)]))
    else:
        error = "Fill in total, installments, frequency and first due date."
    return render(
        request, "debtors/_plan_preview.html", {"schedule": schedule, "error": error, "currency": debt.currency}
    )


@workspace_view("workspace.view")
@load_debt
def document_download(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, document_id: str
) -> FileResponse:
    doc = selectors.related_get(Document, debt=debt, object_id=document_id)
    record_personal_data_access(
        subject=doc, fields=["file"], purpose="document download", kind=actions.PERSONAL_DATA_DOWNLOAD
    )
    inline = request.GET.get("preview") == "1" and doc.content_type in ("application/pdf", "image/png", "image/jpeg")
    response = FileResponse(
        records.document_file(doc),
        content_type=doc.content_type,
        as_attachment=not inline,
        filename=f"document-{doc.pk}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@workspace_view("debts.work")
@load_debt
def document_upload(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to upload.")
    else:
        try:
            records.document_upload(debt=debt, upload=upload, file_name=upload.name or "document", actor=_user(request))
            messages.success(request, "Document uploaded.")
        except ActionRefused as exc:  # e.g. the person's data was erased
            messages.error(request, exc.user_message)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)


@require_POST
@workspace_view("debts.assign")
@load_debt
def debtor_minor_review(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """A manager clears the under-18 hold after checking the debtor's age (or keeps it)."""
    if request.POST.get("confirmed_adult") != "yes":
        messages.error(request, "Tick the box to confirm you checked the debtor is 18 or over.")
    else:
        debtor_review_minor(debtor=debt.debtor, actor=_user(request), confirmed_adult=True)
        messages.success(request, "Under-18 flag cleared. Move the debt to active to start collecting.")
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)
