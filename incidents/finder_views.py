"""The affected-people finder's pages under /w/<slug>/incidents/<reference>/finder/:
the question (whose activity, which export, client or the workspace; the window),
a preview of the people found counted by category and by way found, and freezing
them on the incident. Only members who manage the register use it; the incident page
shows everyone who may see it what was frozen (``templates/incidents/_finder.html``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.types import request_user
from incidents import selectors
from incidents.finder import (
    EXPORT_LABELS,
    NO_DEBTOR_DATA,
    WAYS,
    FinderResult,
    Scope,
    ScopeKind,
    affected_find,
    default_window,
)
from incidents.finder_freeze import affected_freeze
from incidents.finder_options import FinderOptions, finder_options
from incidents.forms import LocalDateTimeField, workspace_zone
from incidents.models import Incident
from incidents.register_views import form_errors_from
from kernel.privacy.registry import Category
from kernel.tenancy.decorators import workspace_view

QUESTION_FIELDS = ("scope", "user", "api_key", "client", "export", "start", "end")


class FinderForm(forms.Form):
    """The finder's question. Shape only: ``affected_find`` checks the rest."""

    scope = forms.ChoiceField(label="Whose traces", choices=ScopeKind.choices, widget=forms.RadioSelect)
    user = forms.ChoiceField(label="User", required=False)
    api_key = forms.ChoiceField(label="API key", required=False)
    client = forms.ChoiceField(label="Client", required=False, help_text="For a portfolio or a whole client.")
    export = forms.ChoiceField(label="Export", required=False, help_text="The newest 200 exports and downloads.")
    add = forms.BooleanField(
        label="Add these people to those already frozen (instead of replacing the ones not yet notified)",
        required=False,
    )

    def __init__(self, *args: Any, workspace: Workspace, options: FinderOptions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = workspace_zone(workspace)
        help_text = f"In {workspace.timezone} time. For a user, an API key or a portfolio."
        self.fields["start"] = LocalDateTimeField(zone=zone, label="From", required=False, help_text=help_text)
        self.fields["end"] = LocalDateTimeField(zone=zone, label="Until", required=False, help_text=help_text)
        none = [("", "—")]
        self.fields["user"].choices = none + options.users  # type: ignore[attr-defined]
        self.fields["api_key"].choices = none + options.api_keys  # type: ignore[attr-defined]
        self.fields["client"].choices = none + options.clients  # type: ignore[attr-defined]
        self.fields["export"].choices = none + options.exports  # type: ignore[attr-defined]
        self.order_fields([*QUESTION_FIELDS, "add"])

    def question(self) -> tuple[Scope, datetime | None, datetime | None]:
        data = self.cleaned_data
        scope = Scope(
            kind=data["scope"],
            user_id=int(data["user"]) if data["scope"] == ScopeKind.USER and data["user"] else None,
            api_key_id=data["api_key"] if data["scope"] == ScopeKind.API_KEY else "",
            client_id=data["client"] if data["scope"] in (ScopeKind.PORTFOLIO, ScopeKind.CLIENT) else "",
            export_id=int(data["export"]) if data["scope"] == ScopeKind.EXPORT and data["export"] else None,
        )
        return scope, data.get("start"), data.get("end")


def _form(request: HttpRequest, workspace: Workspace, incident: Incident, data: Any) -> FinderForm:
    start, end = default_window(incident)
    return FinderForm(
        data,
        workspace=workspace,
        options=finder_options(workspace=workspace),
        initial={"scope": ScopeKind.USER, "start": start, "end": end},
    )


def _preview(result: FinderResult | None) -> dict[str, Any] | None:
    """The answer in words: counts by category and by way, and what was not tied to people."""
    if result is None:
        return None
    categories = dict(Category.choices)
    return {
        "total": result.total,
        "events": result.events,
        "categories": [(categories[c], n) for c, n in result.by_category.items()],
        "ways": [(WAYS[w], n) for w, n in result.by_way.items()],
        "unresolved": sorted(result.unresolved.items()),
        "no_people": [
            (EXPORT_LABELS.get(a, a), NO_DEBTOR_DATA.get(a, ""), n) for a, n in sorted(result.no_people.items())
        ],
    }


def _page(
    request: HttpRequest,
    workspace: Workspace,
    incident: Incident,
    form: FinderForm,
    result: FinderResult | None,
    *,
    status: int = 200,
) -> HttpResponse:
    context = {
        "incident": incident,
        "finder_form": form,
        "preview": _preview(result),
        "can_manage": True,
        "section": "register",
    }
    # htmx swaps the incident page's section; a plain request gets the whole page.
    template = "incidents/_finder.html" if request.headers.get("HX-Request") else "incidents/finder.html"
    return render(request, template, context, status=status)


@workspace_view("incidents.manage")
def finder(request: HttpRequest, workspace: Workspace, membership: Membership, reference: str) -> HttpResponse:
    """Ask, and see how many people and which of their data, before anything is frozen."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = _form(request, workspace, incident, request.GET if "scope" in request.GET else None)
    result = None
    if form.is_bound and form.is_valid():
        scope, start, end = form.question()
        try:
            result = affected_find(workspace=workspace, scope=scope, start=start, end=end)
        except ValidationError as exc:
            form_errors_from(form, exc)
    return _page(request, workspace, incident, form, result, status=400 if form.errors else 200)


@require_POST
@workspace_view("incidents.manage")
def finder_freeze(request: HttpRequest, workspace: Workspace, membership: Membership, reference: str) -> HttpResponse:
    """Ask again and freeze the answer on the incident (the notices go to these people)."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = _form(request, workspace, incident, request.POST)
    if form.is_valid():
        scope, start, end = form.question()
        try:
            result = affected_find(workspace=workspace, scope=scope, start=start, end=end)
            frozen = affected_freeze(
                incident=incident, result=result, actor=request_user(request), add=form.cleaned_data["add"]
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            kept = f"; {frozen.kept_notified} already notified kept" if frozen.kept_notified else ""
            messages.success(
                request,
                f"{frozen.total} people frozen on {incident.reference} "
                f"({frozen.added} added, {frozen.removed} removed{kept}).",
            )
            url = reverse("incidents:incident", kwargs={"workspace_slug": workspace.slug, "reference": reference})
            return redirect(f"{url}#finder")
    return _page(request, workspace, incident, form, None, status=400)
