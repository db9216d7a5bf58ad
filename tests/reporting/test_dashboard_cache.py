"""Dashboard caching: small workspaces show new money at once; large ones answer
from the cache and are refreshed by the warm task (never a slow page view)."""

from __future__ import annotations

from django.core.cache import cache

from accounts.roles import Role
from debtors.services.ledger import payment_record
from kernel.tenancy import workspace_context
from reporting import figure_cache
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt


def _collected(client) -> str:
    return client.get("/w/acme/").context["kpis"]["collected"]


def test_small_workspace_shows_a_payment_at_once(world, django_capture_on_commit_callbacks):
    cache.clear()
    with workspace_context(world.a):
        debt = make_debt(world.a)
    c = login(world.alice)
    assert _collected(c) == "0.00"
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        payment_record(debt=debt, amount_minor=12_345)
    assert _collected(c) == "123.45"


def test_large_workspace_serves_cached_figures_and_the_warm_task_refreshes_them(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    cache.clear()
    monkeypatch.setattr(figure_cache, "SLOW_SECONDS", -1.0)  # every computation counts as slow
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    with workspace_context(world.a):
        debt = make_debt(world.a)
    owner, mgr = login(world.alice), login(manager)
    assert _collected(owner) == "0.00"
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        payment_record(debt=debt, amount_minor=50_000)
    # Page views answer from the cache (no aggregate in the request)...
    assert _collected(owner) == "0.00" and _collected(mgr) == "0.00"
    # ...until the beat task recomputes; everyone who sees the whole workspace shares it.
    from reporting.tasks import dashboard_warm

    assert dashboard_warm(world.a.pk) == 7
    assert _collected(owner) == "500.00" and _collected(mgr) == "500.00"
