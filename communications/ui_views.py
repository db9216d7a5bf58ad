"""Workspace screens for collection communications, and the debt page's
"Consent & contact" section.

* Templates (``/w/<slug>/communications/templates/``): every save is a new version
  (``communications.services.template_save``); a live preview renders the draft
  against a debt through ``communications.services.render`` — the same function
  that renders what is sent, so the opt-out line shown is the one that goes out.
* Sequences (``…/communications/sequences/``): cadences and their enrolments.
* The debt page section: contact preferences (grant/withdraw heard on a call,
  cease communication), the contact rules' answer per channel, sequence
  enrolment, templated sends through the rules, disclosures, proof of consent.

Views are thin: a workspace-scoped lookup (404 for another workspace's ids), one
service, a render. Debt-page actions answer htmx with the whole refreshed debt
panel and plain posts with a redirect, like the debt page's quick actions.
Client users (a creditor's staff) see nothing of any of this.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateSyntaxError
from django.views.decorators.http import require_GET

from accounts.models import Client, Membership, User, Workspace
from accounts.roles import can
from audit.services import record_personal_data_access
from communications.models import DebtSequence, MessageTemplate, Sequence
from communications.selectors import message_template_get, sequence_get
from communications.sequences import sequence_create
from communications.services import render as render_message
from communications.services import template_save
from debtors import selectors
from debtors.models import Debt, Debtor
from kernel.tenancy.decorators import workspace_view

TEMPLATE_CHANNELS = [("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("letter", "Letter")]
SENDABLE_CHANNELS = ("email", "sms", "whatsapp")
CHANNEL_LABELS = {"call": "Phone call", "email": "Email", "sms": "SMS", "whatsapp": "WhatsApp", "letter": "Letter"}
PREVIEW_DEBTS = 50
ENROLMENTS_SHOWN = 200
DISCLOSURES_SHOWN = 50
SAMPLE_PAYMENT_LINK = "[payment link: created when the message is sent]"
STEPS_HELP = (
    "One step per line: the day (counted from enrolment), the channel and, for email/SMS/WhatsApp "
    "(and optionally letters), the template name — e.g. “0 email first-reminder”, “3 sms nudge”, “7 call”."
)


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.headers.get("HX-Request"))


def _agency_staff_only(membership: Membership) -> None:
    """Templates, sequences and consent actions are the agency's: a client user gets
    a 404, as for anything they may not see."""
    if membership.client_id is not None:
        raise Http404("No such page")


def _valid_uuid(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(str(value)))
    except (TypeError, ValueError):
        return None


# --- Templates -------------------------------------------------------------------------


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, required=False, help_text="Email only.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Variables: {{ first_name }}, {{ full_name }}, {{ agency }}, {{ creditor }}, {{ reference }}, "
        "{{ balance }}, {{ currency }}, {{ payment_link }}.",
    )


class TemplateCreateForm(TemplateForm):
    name = forms.SlugField(max_length=60, help_text="Letters, digits and hyphens, e.g. first-reminder.")
    channel = forms.ChoiceField(choices=TEMPLATE_CHANNELS)
    language = forms.CharField(max_length=8, initial="en", help_text="e.g. en, hi, ta.")

    field_order = ["name", "channel", "language", "subject", "body"]


@dataclass
class TemplateFamily:
    """One template (name × channel × language) and its versions."""

    name: str
    channel: str
    language: str
    current: MessageTemplate
    older: int


def template_families(*, workspace: Workspace) -> list[TemplateFamily]:
    rows = (
        MessageTemplate.objects.for_workspace(workspace)
        .only("id", "name", "channel", "language", "version", "is_active", "created_at")
        .order_by("name", "channel", "language", "-is_active", "-version")
    )
    families: dict[tuple[str, str, str], TemplateFamily] = {}
    for row in rows:
        key = (row.name, row.channel, row.language)
        if key in families:
            families[key].older += 1
        else:
            families[key] = TemplateFamily(row.name, row.channel, row.language, row, 0)
    return list(families.values())


def _save_template(
    form: TemplateForm, *, workspace: Workspace, user: User, name: str, channel: str, language: str
) -> MessageTemplate | None:
    try:
        return template_save(
            workspace=workspace,
            name=name,
            channel=channel,
            language=language,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            actor=user,
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    return None


def _preview_debts(workspace: Workspace, membership: Membership) -> list[tuple[str, str]]:
    qs = selectors.debts_visible_to(workspace=workspace, membership=membership).order_by("-created_at")
    return [(str(pk), ref) for pk, ref in qs.values_list("pk", "reference")[:PREVIEW_DEBTS]]


@workspace_view("workspace.view", write_perm="workspace.settings")
def template_list(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Every template with its current version; a new one is created here."""
    _agency_staff_only(membership)
    form = TemplateCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        saved = _save_template(
            form,
            workspace=workspace,
            user=_user(request),
            name=d["name"],
            channel=d["channel"],
            language=d["language"].strip().lower(),
        )
        if saved is not None:
            messages.success(
                request,
                f"Saved “{saved.name}” ({saved.get_channel_display()}, {saved.language}) as version {saved.version}.",
            )
            return redirect("comms_template_detail", workspace_slug=workspace.slug, template_id=saved.pk)
    context = {
        "families": template_families(workspace=workspace),
        "form": form,
        "can_edit": can(membership, "workspace.settings"),
        "preview_debts": _preview_debts(workspace, membership),
    }
    return render(request, "consent/ui_templates.html", context, status=400 if form.errors else 200)


@workspace_view("workspace.view", write_perm="workspace.settings")
def template_detail(
    request: HttpRequest, workspace: Workspace, membership: Membership, template_id: str
) -> HttpResponse:
    """A template's versions (each with its body); saving makes the next version."""
    _agency_staff_only(membership)
    chosen = message_template_get(workspace=workspace, template_id=template_id)
    versions = list(
        MessageTemplate.objects.for_workspace(workspace)
        .filter(name=chosen.name, channel=chosen.channel, language=chosen.language)
        .select_related("created_by")
        .order_by("-version")
    )
    current = next((v for v in versions if v.is_active), versions[0])
    form = TemplateForm(request.POST or None, initial={"subject": current.subject, "body": current.body})
    if request.method == "POST" and form.is_valid():
        saved = _save_template(
            form,
            workspace=workspace,
            user=_user(request),
            name=chosen.name,
            channel=chosen.channel,
            language=chosen.language,
        )
        if saved is not None:
            messages.success(request, f"Saved version {saved.version}. Messages sent from now on use it.")
            return redirect("comms_template_detail", workspace_slug=workspace.slug, template_id=saved.pk)
    context = {
        "template": current,
        "versions": versions,
        "form": form,
        "can_edit": can(membership, "workspace.settings"),
        "preview_debts": _preview_debts(workspace, membership),
    }
    return render(request, "consent/ui_template_detail.html", context, status=400 if form.errors else 200)


def _sample_debt(workspace: Workspace) -> Debt:
    """An unsaved debt for previews when the workspace has none to show (nothing is stored)."""
    client = Client(workspace=workspace, name="Example Creditor Ltd", reference="SAMPLE")
    debtor = Debtor(workspace=workspace, full_name="Asha Rao")
    return Debt(
        workspace=workspace,
        client=client,
        debtor=debtor,
        reference="SAMPLE-0001",
        currency=workspace.currency,
        original_amount_minor=125_000,
        balance_minor=125_000,
    )


@require_GET
@workspace_view("workspace.view")
def template_preview(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The draft rendered as it would be sent (htmx): subject, body and the opt-out
    line ``render`` always appends. Rendering a real debt shows its debtor's name,
    so that read is audited."""
    _agency_staff_only(membership)
    channel = request.GET.get("channel", "email")
    if channel not in dict(TEMPLATE_CHANNELS):
        channel = "email"
    draft = MessageTemplate(
        workspace=workspace,
        name="preview",
        channel=channel,
        subject=request.GET.get("subject", ""),
        body=request.GET.get("body", ""),
    )
    debt_id = _valid_uuid(request.GET.get("debt"))
    debt = None
    if debt_id:
        debt = (
            selectors.debts_visible_to(workspace=workspace, membership=membership)
            .select_related("debtor", "client")
            .filter(pk=debt_id)
            .first()
        )
    sample = debt is None
    debt = debt or _sample_debt(workspace)
    context: dict[str, Any] = {"channel": channel, "sample": sample, "debt": debt}
    try:
        subject, body, unsubscribe = render_message(draft, debt, payment_link=SAMPLE_PAYMENT_LINK)
    except TemplateSyntaxError as exc:
        context["error"] = f"Template error: {exc}"
        return render(request, "consent/ui_template_preview.html", context)
    if not sample:
        record_personal_data_access(subject=debt.debtor, fields=["full_name"], purpose="message template preview")
    # render() appends the opt-out as the last line (after a "--" separator for email).
    message, opt_out_line = body, ""
    if unsubscribe in body and channel != "letter":
        message, _, opt_out_line = body.rpartition("\n")
        message = message.rstrip().removesuffix("--").rstrip()
    context.update(subject=subject, message=message, opt_out_line=opt_out_line, opt_out_url=unsubscribe)
    return render(request, "consent/ui_template_preview.html", context)


# --- Sequences -------------------------------------------------------------------------


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=100)
    steps = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 6, "placeholder": "0 email first-reminder\n3 sms nudge\n7 call\n14 letter final-notice"}
        ),
        help_text=STEPS_HELP,
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_steps(self) -> list[dict[str, Any]]:
        """Parse the lines into steps; the sequence service checks the rest (channels,
        order). A message step must name a template that exists, or it could never run."""
        steps: list[dict[str, Any]] = []
        errors: list[str] = []
        for n, raw in enumerate(self.cleaned_data["steps"].splitlines(), start=1):
            parts = raw.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) not in (2, 3) or not parts[0].lstrip("-").isdigit():
                errors.append(f"line {n}: write “day channel template”, e.g. “3 sms nudge”")
                continue
            step: dict[str, Any] = {"day": int(parts[0]), "channel": parts[1].lower()}
            if len(parts) == 3:
                step["template"] = parts[2]
            steps.append(step)
        active = set(
            MessageTemplate.objects.for_workspace(self.workspace).filter(is_active=True).values_list("name", "channel")
        )
        for n, step in enumerate(steps, start=1):
            if (
                step.get("template")
                and step["channel"] in SENDABLE_CHANNELS
                and (step["template"], step["channel"]) not in active
            ):
                errors.append(f"step {n}: there is no active {step['channel']} template named “{step['template']}”")
        if errors:
            raise forms.ValidationError(errors)
        return steps


def _sequence_rows(workspace: Workspace) -> QuerySet[Sequence]:
    running = Q(enrolments__finished_at__isnull=True)
    return (
        Sequence.objects.for_workspace(workspace)
        .annotate(
            running=Count("enrolments", filter=running & Q(enrolments__paused=False)),
            paused=Count("enrolments", filter=running & Q(enrolments__paused=True)),
            finished=Count("enrolments", filter=Q(enrolments__finished_at__isnull=False)),
        )
        .order_by("name", "created_at")
    )


@workspace_view("workspace.view", write_perm="workspace.settings")
def sequence_list(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    _agency_staff_only(membership)
    form = SequenceForm(request.POST or None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        try:
            seq = sequence_create(
                workspace=workspace, name=form.cleaned_data["name"].strip(), steps=form.cleaned_data["steps"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Sequence “{seq.name}” created. Enrol debts from their debt page.")
            return redirect("comms_sequence_detail", workspace_slug=workspace.slug, sequence_id=seq.pk)
    context = {
        "sequences": list(_sequence_rows(workspace)),
        "form": form,
        "can_edit": can(membership, "workspace.settings"),
    }
    return render(request, "consent/ui_sequences.html", context, status=400 if form.errors else 200)


@require_GET
@workspace_view("workspace.view")
def sequence_detail(
    request: HttpRequest, workspace: Workspace, membership: Membership, sequence_id: str
) -> HttpResponse:
    """A sequence's steps and its enrolments (of the debts this member may see)."""
    _agency_staff_only(membership)
    seq = sequence_get(workspace=workspace, sequence_id=sequence_id)
    visible = selectors.debts_visible_to(workspace=workspace, membership=membership).values("pk")
    enrolments = list(
        DebtSequence.objects.for_workspace(workspace)
        .filter(sequence=seq, debt__in=visible)
        .select_related("debt")
        .order_by("finished_at", "next_due_at")[: ENROLMENTS_SHOWN + 1]
    )
    rows = [
        {"enrolment": e, "next": _step_label(seq.steps, e), "result": _result_label(e.last_result)}
        for e in enrolments[:ENROLMENTS_SHOWN]
    ]
    context = {"sequence": seq, "steps": seq.steps, "rows": rows, "more": len(enrolments) > ENROLMENTS_SHOWN}
    return render(request, "consent/ui_sequence_detail.html", context)


def _step_text(step: dict[str, Any]) -> str:
    template = f" “{step['template']}”" if step.get("template") else ""
    return f"day {step.get('day')}: {CHANNEL_LABELS.get(step.get('channel', ''), step.get('channel'))}{template}"


def _step_label(steps: list[dict[str, Any]], enrolment: DebtSequence) -> str:
    if enrolment.finished_at or enrolment.next_step >= len(steps):
        return "finished"
    return f"step {enrolment.next_step + 1} of {len(steps)} ({_step_text(steps[enrolment.next_step])})"


def _result_label(result: dict[str, Any]) -> str:
    if not result:
        return "—"
    if "refused" in result:
        return "refused: " + "; ".join(r.get("message", r.get("code", "")) for r in result["refused"])
    if "stopped" in result:
        return f"stopped ({result['stopped']})"
    if "done" in result:
        return f"done: {_step_text(result['done'])}"
    return str(result)
