"""View decorators for pages about one debt (``/w/<slug>/debts/<debt_id>/…``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, overload

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.models import Membership, Workspace
from debtors import selectors

View = Callable[..., HttpResponseBase]


def _loader(view: View, *, workable: bool) -> View:
    find = selectors.debt_workable if workable else selectors.debt_visible_get

    @wraps(view)
    def wrapper(
        request: HttpRequest, *args: Any, workspace: Workspace, membership: Membership, debt_id: Any, **kwargs: Any
    ) -> HttpResponseBase:
        debt = find(workspace=workspace, membership=membership, debt_id=debt_id)
        return view(request, *args, workspace=workspace, membership=membership, debt=debt, **kwargs)

    return wrapper


@overload
def load_debt(view: View, /) -> View: ...


@overload
def load_debt(*, workable: bool = False) -> Callable[[View], View]: ...


def load_debt(view: View | None = None, /, *, workable: bool = False) -> View | Callable[[View], View]:
    """Look up the URL's ``debt_id`` and pass the view ``debt=`` instead, so no view
    can forget the visibility rule. Goes under ``workspace_view``, which supplies
    ``workspace`` and ``membership``.

    ``@load_debt``: a debt the member sees (agents their assigned debts, client
    users their client's). ``@load_debt(workable=True)``: one the agency works
    (``debtors.selectors.debt_workable``: never a client user's). Anything else
    is a 404, so another workspace's id and an invisible debt look the same as a
    missing one."""
    if view is not None:
        return _loader(view, workable=workable)
    return lambda inner: _loader(inner, workable=workable)
