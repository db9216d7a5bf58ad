"""Every workspace page and every API route, against the other workspace.

The routes come from the URLconf (tests/cross_tenant.py), so a new route is covered
the day it is added — or fails here, saying which parameter to register.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client as HttpClient

from accounts.selectors import client_get_by_reference
from accounts.services import api_key_create
from kernel.tenancy import workspace_context
from tests.conftest import api, login
from tests.cross_tenant import (
    BOGUS_KEY,
    WORKSPACE_KWARG,
    Route,
    TenantObjects,
    all_routes,
    api_routes,
    assert_api_error,
    send,
    unregistered,
    workspace_routes,
)

WORKSPACE_ROUTES = workspace_routes()
API_ROUTES = api_routes()

# Routes that answer 404 to their own workspace too, with the reason (so the control
# tests below stay honest about what they cannot show).
OWNER_GETS_404: dict[str, str] = {}


# Known product gaps, each reported with its fix. strict: the test fails once the
# gap is fixed, so the entry gets removed.
# e.g. {("test_api_key_of_another_workspace_gets_404", "api_debt_status"): "why, and the fix"}
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _ids(route: Route) -> str:
    return route.name


def _with_params(routes: list[Route]) -> list[Route]:
    return [r for r in routes if r.object_params]


def _cases(test: str, routes: list[Route]) -> list[object]:
    return [
        pytest.param(r, id=r.name, marks=pytest.mark.xfail(reason=KNOWN_GAPS[test, r.name], strict=True))
        if (test, r.name) in KNOWN_GAPS
        else pytest.param(r, id=r.name)
        for r in routes
    ]


def _body(response: HttpResponse) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")  # type: ignore[attr-defined]
    return response.content.decode(errors="replace")


def _foreign_variants(route: Route, own: TenantObjects, foreign: TenantObjects) -> list[dict[str, object]]:
    """Every id foreign; and, when there are several, each one foreign among own ids
    (a foreign note id under one's own debt must be a 404 too)."""
    own_kwargs = own.kwargs_for(route)
    foreign_kwargs = foreign.kwargs_for(route)
    variants = [foreign_kwargs]
    if len(route.object_params) > 1:
        variants += [{**own_kwargs, param: foreign_kwargs[param]} for param in route.object_params]
    return variants


def test_the_walker_finds_the_routes():
    names = {r.name for r in WORKSPACE_ROUTES}
    assert len(WORKSPACE_ROUTES) >= 11, names
    assert {"dashboard", "members", "member_remove", "api_keys", "api_key_revoke", "workspace_settings"} <= names
    api_names = {r.name for r in API_ROUTES}
    assert len(API_ROUTES) >= 20, api_names
    assert {"api_workspace", "api_clients", "api_client_detail"} <= api_names
    assert sum(1 for r in WORKSPACE_ROUTES + API_ROUTES if r.object_params) >= 15


# Public pages that name a workspace by slug but serve people who are not members
# (the rights-request pages, like /pay/<token>/): no membership to refuse, so the
# walker's member tests do not apply. Their cross-workspace tests — another
# workspace's slug with this one's reference or token is 404 — are in
# tests/privacy_requests (test_intake_public, test_exports).
PUBLIC_WORKSPACE_PREFIXES = ("privacy/<slug:workspace_slug>/",)


def test_no_route_escapes_the_walker():
    covered = set(WORKSPACE_ROUTES + API_ROUTES)
    stray = [
        r.pattern
        for r in all_routes()
        if r not in covered
        and not r.pattern.startswith(PUBLIC_WORKSPACE_PREFIXES)
        and (r.pattern.startswith(("w/", "api/v")) or WORKSPACE_KWARG in r.pattern)
    ]
    assert not stray, f"workspace or API routes outside w/<slug:workspace_slug>/ and api/v1/: {stray}"
    regex = [r.name for r in covered if r.is_regex]
    assert not regex, f"use path(), not re_path(), so the cross-tenant tests can fill these in: {regex}"


def test_every_route_parameter_is_registered():
    problems = unregistered(WORKSPACE_ROUTES + API_ROUTES)
    assert not problems, "\n".join(problems)


# --- Workspace pages (/w/<slug>/…) -------------------------------------------------


@pytest.mark.parametrize("route", WORKSPACE_ROUTES, ids=_ids)
def test_member_of_another_workspace_gets_404(world, route):
    url = TenantObjects(world.a).url(route)
    bob = login(world.bob)
    for method in ("GET", "POST"):
        assert send(bob, method, url).status_code == 404, (method, url)


@pytest.mark.parametrize("route", _with_params(WORKSPACE_ROUTES), ids=_ids)
def test_own_workspace_with_another_workspaces_ids_gets_404(world, route):
    """alice, in her own workspace's URL, asks for B's objects (GET and POST)."""
    own, foreign = TenantObjects(world.a), TenantObjects(world.b)
    alice = login(world.alice)
    missing = route.url(world.a.slug, **route.missing_kwargs())
    for method in ("GET", "POST"):
        # A method the route never accepts is refused (405) whatever the id; otherwise
        # a foreign id must look exactly like a missing one.
        expected = 405 if send(alice, method, missing).status_code == 405 else 404
        for kwargs in _foreign_variants(route, own, foreign):
            url = route.url(world.a.slug, **kwargs)
            assert send(alice, method, url).status_code == expected, (method, url)


@pytest.mark.parametrize("route", [r for r in WORKSPACE_ROUTES if not r.object_params], ids=_ids)
def test_workspace_page_shows_nothing_of_another_workspace(world, route):
    foreign = TenantObjects(world.b)
    foreign.create_all()
    response = login(world.alice).get(TenantObjects(world.a).url(route))
    # Some pages want query parameters (a 4xx shows nothing either); none may crash.
    assert response.status_code < 500, response.status_code
    body = _body(response)
    leaked = [pk for pk in foreign.ids() if pk in body]
    assert not leaked, f"{route.name} shows workspace B's objects {leaked} to A's owner"
    # The factories put B's slug in names, emails and references.
    assert world.b.slug not in body.lower()


@pytest.mark.parametrize("route", WORKSPACE_ROUTES, ids=_ids)
def test_anonymous_is_sent_to_login(world, route):
    url = TenantObjects(world.a).url(route)
    login_url = resolve_url(settings.LOGIN_URL)
    for method in ("GET", "POST"):
        response = send(HttpClient(), method, url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response["Location"].startswith(f"{login_url}?next="), response["Location"]


@pytest.mark.parametrize("route", _with_params(WORKSPACE_ROUTES), ids=_ids)
def test_control_owner_reaches_own_objects(world, route):
    """Without this, a route that 404s for everyone would pass the tests above."""
    if route.name in OWNER_GETS_404:
        pytest.skip(OWNER_GETS_404[route.name])
    url = TenantObjects(world.a).url(route)
    status = login(world.alice).get(url).status_code
    assert status in (200, 302, 405), (url, status)


# --- REST API (/api/v1/…) -----------------------------------------------------------


@pytest.mark.parametrize("route", _cases("test_api_key_of_another_workspace_gets_404", _with_params(API_ROUTES)))
def test_api_key_of_another_workspace_gets_404(world, route):
    foreign, own = TenantObjects(world.a), TenantObjects(world.b)
    b = api(world.key_b)
    for kwargs in _foreign_variants(route, own, foreign):
        url = route.url(**kwargs)
        for method in route.methods:
            assert_api_error(send(b, method, url), 404)


@pytest.mark.parametrize("route", _cases("test_client_scoped_key_gets_404_for_other_clients", _with_params(API_ROUTES)))
def test_client_scoped_key_gets_404_for_other_clients(world, route):
    """A creditor's key sees its own client's portfolio only: the objects the walker
    makes hang off another client of the same workspace."""
    own = TenantObjects(world.a)
    with workspace_context(world.a):
        sahyadri = client_get_by_reference(workspace=world.a, reference="SAHYADRI")
        scoped = api(api_key_create(workspace=world.a, name="Sahyadri", client=sahyadri).secret)
    missing = route.url(**route.missing_kwargs())
    for method in route.methods:
        # A write the key may never make is refused (403) whatever the id.
        expected = 403 if send(scoped, method, missing).status_code == 403 else 404
        assert_api_error(send(scoped, method, own.url(route)), expected)


@pytest.mark.parametrize("route", [r for r in API_ROUTES if not r.object_params and "GET" in r.methods], ids=_ids)
def test_api_list_shows_nothing_of_another_workspace(world, route):
    foreign = TenantObjects(world.a)
    foreign.create_all()
    response = api(world.key_b).get(route.url())
    assert response.status_code == 200, response.content[:300]
    body = _body(response)
    leaked = [pk for pk in foreign.ids() if pk in body]
    assert not leaked, f"{route.name} shows workspace A's objects {leaked} to B's key"
    assert world.a.slug not in body


@pytest.mark.parametrize("route", API_ROUTES, ids=_ids)
@pytest.mark.parametrize("header", [None, f"Bearer {BOGUS_KEY}"], ids=["no-key", "bogus-key"])
def test_api_without_a_valid_key_is_401(world, route, header):
    url = TenantObjects(world.a).url(route)
    client = HttpClient(HTTP_AUTHORIZATION=header) if header else HttpClient()
    for method in route.methods:
        response = send(client, method, url)
        assert_api_error(response, 401)
        assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("route", [r for r in _with_params(API_ROUTES) if "GET" in r.methods], ids=_ids)
def test_control_api_key_reaches_own_objects(world, route):
    """Without this, a route that 404s for everyone would pass the tests above."""
    if route.name in OWNER_GETS_404:
        pytest.skip(OWNER_GETS_404[route.name])
    url = TenantObjects(world.a).url(route)
    response = api(world.key_a).get(url)
    assert response.status_code == 200, (url, response.content[:300])
