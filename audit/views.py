from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, time
from typing import cast

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import Membership, Workspace
from audit import actions
from audit.models import AuditEvent
from audit.selectors import audit_events_for_workspace
from audit.services import audit_record
from collectpro.tenancy.decorators import workspace_view


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(required=False)
    action = forms.ChoiceField(required=False, choices=[("", "Any action")] + [(a, a) for a in actions.ALL])
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, members: QuerySet[Membership], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        cast(forms.ChoiceField, self.fields["actor"]).choices = [("", "Anyone")] + [(str(m.user_id), m.user.email) for m in members]


def _filtered(workspace: Workspace, form: AuditFilterForm) -> QuerySet[AuditEvent]:
    qs = audit_events_for_workspace(workspace=workspace).order_by("-seq")
    if not form.is_valid():
        return qs
    data = form.cleaned_data
    if data["actor"]:
        qs = qs.filter(actor_user_id=int(data["actor"]))
    if data["action"]:
        qs = qs.filter(action=data["action"])
    if data["object_id"]:
        qs = qs.filter(object_id=data["object_id"])
    tz = timezone.get_current_timezone()
    if data["since"]:
        qs = qs.filter(created_at__gte=datetime.combine(data["since"], time.min, tzinfo=tz))
    if data["until"]:
        qs = qs.filter(created_at__lte=datetime.combine(data["until"], time.max, tzinfo=tz))
    return qs


def _members(workspace: Workspace) -> QuerySet[Membership]:
    from accounts.selectors import members_list

    return members_list(workspace=workspace)


@workspace_view("audit.view")
def audit_log(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    members = _members(workspace)
    form = AuditFilterForm(request.GET or None, members=members)
    page = Paginator(_filtered(workspace, form), 50).get_page(request.GET.get("page"))
    emails = {m.user_id: m.user.email for m in members}
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/audit_log.html",
        {"form": form, "page": page, "emails": emails, "query": query.urlencode()},
    )


@workspace_view("audit.view")
def audit_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    members = _members(workspace)
    form = AuditFilterForm(request.GET or None, members=members)
    # Materialise ids inside the request transaction (the stream runs after it ends).
    events = list(_filtered(workspace, form)[:100_000])
    audit_record(action=actions.AUDIT_EXPORTED, workspace=workspace, metadata={"rows": len(events)})

    class Echo:
        def write(self, value: str) -> str:
            return value

    def rows() -> Iterator[str]:
        writer = csv.writer(Echo())
        yield writer.writerow(["seq", "time", "action", "actor_user_id", "api_key_id", "object_type", "object_id", "ip", "request_id", "source", "hash"])
        for e in events:
            yield writer.writerow([e.seq, e.created_at.isoformat(), e.action, e.actor_user_id or "", e.actor_api_key_id, e.object_type, e.object_id, e.ip or "", e.request_id, e.source, e.hash])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-{workspace.slug}.csv"'
    return response
