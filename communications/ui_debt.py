"""The debt page's "Consent & contact" section: what the rules say now, the
debtor's preferences, sending a templated message, sequences and disclosures —
every change through the consent services, audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.roles import can
from communications.log import communication_log
from communications.models import DebtSequence, MessageTemplate, Sequence
from communications.selectors import debt_sequence_get
from communications.sequences import sequence_enrol, sequence_pause, sequence_preview
from communications.services import communication_send
from communications.ui_views import (
    CHANNEL_LABELS,
    DISCLOSURES_SHOWN,
    SENDABLE_CHANNELS,
    _is_htmx,
    _result_label,
    _step_label,
    _user,
    _valid_uuid,
)
from consent.models import CHANNEL_PURPOSE, ConsentAction, ConsentSource, Disclosure, Purpose
from consent.rules import Decision, can_contact
from consent.services import ContactRefused, consent_current, consent_record, disclosure_record
from debtors.decorators import load_debt
from debtors.models import Debt
from debtors.views import debt_panel_context
from kernel.privacy.registry import Category
from kernel.tenancy.decorators import workspace_view

PREFERENCE_PURPOSES = [CHANNEL_PURPOSE[c] for c in ("email", "sms", "call", "whatsapp", "letter")]
RECORDABLE_PURPOSES = [*PREFERENCE_PURPOSES, Purpose.ALL_CONTACT]


class ConsentChangeForm(forms.Form):
    purpose = forms.ChoiceField(choices=[(p.value, p.label) for p in RECORDABLE_PURPOSES])
    action = forms.ChoiceField(choices=ConsentAction.choices)


class DisclosureForm(forms.Form):
    recipient_type = forms.ChoiceField(
        choices=Disclosure._meta.get_field("recipient_type").flatchoices, label="Recipient type"
    )
    recipient_name = forms.CharField(max_length=200, label="Recipient")
    categories = forms.MultipleChoiceField(
        choices=Category.choices, widget=forms.CheckboxSelectMultiple, label="Data disclosed"
    )
    purpose = forms.CharField(max_length=200, label="Why")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "disclosure_%s")  # the debt page has other forms with a "purpose"
        super().__init__(*args, **kwargs)


def _may_work(membership: Membership) -> bool:
    return can(membership, "debts.work") and membership.client_id is None


def _contact_now(debt: Debt) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for channel in ("call", "email", "sms", "whatsapp", "letter"):
        decision = can_contact(debt, channel, now)
        rows.append({"channel": channel, "label": CHANNEL_LABELS[channel], "decision": decision})
    return rows


def _sendable_templates(workspace: Workspace) -> list[dict[str, str]]:
    rows = (
        MessageTemplate.objects.for_workspace(workspace)
        .filter(is_active=True, channel__in=SENDABLE_CHANNELS)
        .order_by("channel", "name")
        .values_list("channel", "name")
        .distinct()
    )
    return [{"value": f"{channel}:{name}", "label": f"{CHANNEL_LABELS[channel]} · {name}"} for channel, name in rows]


def debt_consent_panel(
    *,
    workspace: Workspace,
    membership: Membership,
    debt: Debt,
    refusal: Decision | None = None,
    error: str = "",
    disclosure_form: DisclosureForm | None = None,
) -> dict[str, Any] | None:
    """What the debt page's "Consent & contact" section shows, or None for client
    users (they see nothing of it). Auditors get it read-only."""
    if membership.client_id is not None:
        return None
    debtor_id = str(debt.debtor_id)
    state = consent_current(workspace=workspace, subject_type="debtor", subject_id=debtor_id)
    enrolments = list(
        DebtSequence.objects.for_workspace(workspace)
        .filter(debt=debt)
        .select_related("sequence")
        .order_by("started_at")
    )
    enrolled = {e.sequence_id for e in enrolments}
    return {
        "can_work": _may_work(membership),
        "debtor_id": debtor_id,
        "cease": state.get(Purpose.ALL_CONTACT) == ConsentAction.WITHDRAW,
        "cease_recorded": Purpose.ALL_CONTACT in state,
        "preferences": [
            {"purpose": p.value, "label": p.label, "state": state.get(p.value, "")} for p in PREFERENCE_PURPOSES
        ],
        "other_purposes": [
            {"label": Purpose(p).label, "state": a}
            for p, a in state.items()
            if p not in RECORDABLE_PURPOSES and p in Purpose.values
        ],
        "contact_now": _contact_now(debt),
        "enrolments": [
            {
                "enrolment": e,
                "preview": sequence_preview(enrolment=e),
                "next": _step_label(e.sequence.steps, e),
                "result": _result_label(e.last_result),
            }
            for e in enrolments
        ],
        "sequences": list(
            Sequence.objects.for_workspace(workspace).filter(is_active=True).exclude(pk__in=enrolled).order_by("name")
        ),
        "templates": _sendable_templates(workspace),
        "disclosures": list(
            Disclosure.objects.for_workspace(workspace)
            .filter(debtor_id=debt.debtor_id)
            .order_by("-disclosed_at")[:DISCLOSURES_SHOWN]
        ),
        "disclosure_form": disclosure_form or DisclosureForm(),
        "refusal": refusal,
        "error": error,
    }


def _answer(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, *, done: str = "", **panel: Any
) -> HttpResponse:
    """htmx: the whole refreshed debt panel (the section shows any error or refusal);
    a plain post: back to the debt page with a message."""
    if done:
        messages.success(request, done)
    if _is_htmx(request):
        return render(
            request, "debtors/_debt_panel.html", debt_panel_context(request, workspace, membership, debt, consent=panel)
        )
    if not done:
        refusal = panel.get("refusal")
        form = panel.get("disclosure_form")
        text = panel.get("error") or ""
        if refusal is not None:
            text = "Not sent — " + " ".join(r.message for r in refusal.reasons) + " The refusal was recorded."
        elif form is not None and form.errors:
            text = "The disclosure was not recorded: " + " ".join(str(e) for errs in form.errors.values() for e in errs)
        if text:
            messages.error(request, text)
    return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def debt_consent_change(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """Record a grant or withdrawal the debtor gave on a call (source: agent on a
    call); withdrawing "any collection contact" is a cease-communication request."""
    form = ConsentChangeForm(request.POST)
    if not form.is_valid():
        return _answer(request, workspace, membership, debt, error="Choose a purpose and grant or withdraw.")
    purpose, action = form.cleaned_data["purpose"], form.cleaned_data["action"]
    consent_record(
        workspace=workspace,
        subject_type="debtor",
        subject_id=str(debt.debtor_id),
        purpose=purpose,
        action=action,
        source=ConsentSource.AGENT_CALL,
        actor=_user(request),
    )
    if purpose == Purpose.ALL_CONTACT:
        done = (
            "Cease communication recorded: every channel is stopped."
            if action == ConsentAction.WITHDRAW
            else "Cease communication lifted (recorded)."
        )
    else:
        done = f"Recorded: {Purpose(purpose).label.lower()} — {'granted' if action == ConsentAction.GRANT else 'withdrawn'}."
    return _answer(request, workspace, membership, debt, done=done)


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def debt_message_send(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """Send an email/SMS/WhatsApp from a template, through the contact rules: a
    refusal is recorded by the service and every reason is shown here."""
    channel, _, name = request.POST.get("template", "").partition(":")
    if channel not in SENDABLE_CHANNELS or not name:
        return _answer(request, workspace, membership, debt, error="Choose a template to send.")
    try:
        communication_send(debt=debt, channel=channel, template_name=name, actor=_user(request))
    except ContactRefused as exc:
        return _answer(request, workspace, membership, debt, refusal=exc.decision)
    except ValidationError as exc:
        return _answer(request, workspace, membership, debt, error="Not sent — " + " ".join(exc.messages))
    return _answer(
        request, workspace, membership, debt, done=f"{CHANNEL_LABELS[channel]} “{name}” queued to the debtor."
    )


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def debt_sequence_enrol(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    seq_id = _valid_uuid(request.POST.get("sequence"))
    seq = Sequence.objects.for_workspace(workspace).filter(pk=seq_id, is_active=True).first() if seq_id else None
    if seq is None:
        return _answer(request, workspace, membership, debt, error="Choose a sequence.")
    if DebtSequence.objects.for_workspace(workspace).filter(debt=debt, sequence=seq).exists():
        return _answer(request, workspace, membership, debt, error=f"Already enrolled in “{seq.name}”.")
    sequence_enrol(debt=debt, sequence=seq)
    return _answer(
        request,
        workspace,
        membership,
        debt,
        done=f"Enrolled in “{seq.name}”. Every step goes through the contact rules.",
    )


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def debt_sequence_pause(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt, enrolment_id: str
) -> HttpResponse:
    enrolment = debt_sequence_get(debt=debt, enrolment_id=enrolment_id)
    paused = request.POST.get("paused") == "1"
    sequence_pause(enrolment=enrolment, paused=paused)
    return _answer(
        request,
        workspace,
        membership,
        debt,
        done=f"Sequence “{enrolment.sequence.name}” {'paused' if paused else 'resumed'}.",
    )


@require_POST
@workspace_view("debts.work")
@load_debt(workable=True)
def debt_disclosure_record(
    request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt
) -> HttpResponse:
    """Record that the debtor's data was disclosed to a third party (who, what, why)."""
    form = DisclosureForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        try:
            disclosure_record(
                workspace=workspace,
                debtor=debt.debtor,
                recipient_type=d["recipient_type"],
                recipient_name=d["recipient_name"],
                categories=list(d["categories"]),
                purpose=d["purpose"],
                actor=_user(request),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return _answer(
                request, workspace, membership, debt, done=f"Disclosure to {d['recipient_name'].strip()} recorded."
            )
    return _answer(request, workspace, membership, debt, disclosure_form=form)


def log_contact(form: Any, debt: Debt, user: Any) -> Any:
    """The debt page's "Log contact" quick action (registered in CommunicationsConfig.ready)."""
    d = form.cleaned_data
    return communication_log(
        debt=debt, channel=d["channel"], direction=d["direction"], outcome=d["outcome"], content=d["notes"], actor=user
    )
