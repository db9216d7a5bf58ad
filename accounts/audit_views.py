"""The workspace's audit log page and its re-verifiable CSV export (the trail itself is the audit app's)."""

from __future__ import annotations

import json
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
from accounts.selectors import members_list
from audit import actions
from audit.models import AuditEvent
from audit.selectors import audit_events_for_workspace
from audit.services import export_record
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view


class AuditFilterForm(forms.Form):
    actor = forms.ChoiceField(required=False)
    action = forms.ChoiceField(required=False)
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, *args: object, members: QuerySet[Membership], action_names: list[str] | None = None, **kwargs: object
    ):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        names = sorted(set(action_names or []) | set(actions.ALL))
        cast(forms.ChoiceField, self.fields["action"]).choices = [("", "Any action")] + [(a, a) for a in names]
        cast(forms.ChoiceField, self.fields["actor"]).choices = [("", "Anyone")] + [
            (str(m.user_id), m.user.email) for m in members
        ]


def _filtered(workspace: Workspace, form: AuditFilterForm) -> QuerySet[AuditEvent]:
    qs = audit_events_for_workspace(workspace=workspace).order_by("-seq")
    if form.is_bound and not form.is_valid():
        return qs.none()  # a filter we can't apply must not show (or export) everything
    if not form.is_bound:
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


def _action_names(workspace: Workspace) -> list[str]:
    return list(audit_events_for_workspace(workspace=workspace).order_by().values_list("action", flat=True).distinct())


def _members(workspace: Workspace) -> QuerySet[Membership]:
    return members_list(workspace=workspace)


@workspace_view("audit.view")
def audit_log(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    members = _members(workspace)
    form = AuditFilterForm(request.GET or None, members=members, action_names=_action_names(workspace))
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
    form = AuditFilterForm(request.GET or None, members=members, action_names=_action_names(workspace))
    # Materialise ids inside the request transaction (the stream runs after it ends).
    events = list(_filtered(workspace, form)[:100_000])
    export_record(action=actions.AUDIT_EXPORTED, workspace=workspace, metadata={"rows": len(events)})

    def rows() -> Iterator[str]:
        writer = csv_line_writer()
        # Every hashed field, so an export can be re-verified outside CollectPro.
        yield writer.writerow(
            [
                "chain",
                "seq",
                "time",
                "action",
                "actor_user_id",
                "api_key_id",
                "object_type",
                "object_id",
                "ip",
                "user_agent",
                "request_id",
                "source",
                "metadata",
                "prev_hash",
                "hash",
            ]
        )
        for e in events:
            yield writer.writerow(
                [
                    e.chain,
                    e.seq,
                    e.created_at.isoformat(),
                    e.action,
                    e.actor_user_id or "",
                    e.actor_api_key_id,
                    e.object_type,
                    e.object_id,
                    e.ip or "",
                    e.user_agent,
                    e.request_id,
                    e.source,
                    json.dumps(e.metadata, sort_keys=True),
                    e.prev_hash,
                    e.hash,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-{workspace.slug}.csv"'
    return response
