from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

View = Callable[..., HttpResponseBase]


def workspace_view(perm: str = "workspace.view", *, write_perm: str | None = None) -> Callable[[View], View]:
    """For views under ``/w/<slug>/``: the middleware has already resolved the
    workspace and membership; this checks the role's permission and passes
    ``workspace`` and ``membership`` instead of the slug.

    ``write_perm`` guards unsafe methods (POST…) separately, so read-only roles
    get the page but every write is refused with 403. The membership answers
    ``can(perm)`` itself (``accounts.Membership.can``), so the kernel needs no
    knowledge of roles."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, workspace_slug: str, **kwargs: Any) -> HttpResponseBase:
            workspace = getattr(request, "workspace", None)
            membership = getattr(request, "membership", None)
            if workspace is None or membership is None or workspace.slug != workspace_slug:
                raise Http404("No such workspace")
            if not membership.can(perm):
                raise PermissionDenied
            if write_perm and request.method not in ("GET", "HEAD", "OPTIONS") and not membership.can(write_perm):
                raise PermissionDenied
            return view(request, *args, workspace=workspace, membership=membership, **kwargs)

        return wrapper

    return decorator
