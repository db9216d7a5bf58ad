"""A user's saved queue filters (``SavedView``: the query string of the queue page).

Not named saved_views.py: tools.lint_rules reads any *_views.py module as views."""

from __future__ import annotations

from django.http import QueryDict

from accounts.models import User, Workspace
from debtors.models import SavedView

NAME_MAX = 60
QUERY_MAX = 500
# Never kept: a search term may be an email or an id number; a cursor is one page.
DROPPED_PARAMS = ("q", "cursor")


def saved_view_query(query: str) -> str:
    """The part of a queue query string a saved view keeps: its filters and order."""
    params = QueryDict(query or "", mutable=True)
    for name in DROPPED_PARAMS:
        params.pop(name, None)
    return params.urlencode()[:QUERY_MAX]


def saved_view_save(*, workspace: Workspace, user: User, name: str, query: str) -> SavedView:
    """Save the user's queue filters under ``name``, replacing their view of that
    name. Only filters are kept (``saved_view_query``), never a search term, so a
    saved view holds no personal data."""
    view, _ = SavedView.objects.for_workspace(workspace).update_or_create(
        workspace=workspace, user=user, name=name.strip()[:NAME_MAX], defaults={"query": saved_view_query(query)}
    )
    return view
