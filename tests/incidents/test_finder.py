"""The affected-people finder: each scope finds exactly the people touched (not another
workspace's, not outside the window), with the right categories and ways found."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from accounts.models import ApiKey, Client
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record
from incidents.finder import Scope, ScopeKind, affected_find, held_about_debtors
from kernel.privacy.registry import Category
from kernel.tenancy import workspace_context
from tests.incidents.finder_world import Traces, build_traces

pytestmark = pytest.mark.django_db

READ = frozenset({"identity", "contact", "government_id"})  # what the debt page's reveal shows


@pytest.fixture
def t(world) -> Traces:
    return build_traces(world)


def _find(t: Traces, scope: Scope, *, start=None, end=None):
    return affected_find(workspace=t.world.a, scope=scope, start=start or t.start, end=end or t.end)


def test_a_users_window_finds_what_they_revealed_worked_on_and_exported(t):
    result = _find(t, Scope(ScopeKind.USER, user_id=t.world.alice.pk))
    assert set(result.people) == t.debtors("revealed", "noted", "paid")  # not the reveal moved out of the window
    revealed, noted, paid = (result.people[t.debtor(n)] for n in ("revealed", "noted", "paid"))
    assert revealed.categories == READ and revealed.ways == {"read"}
    assert noted.categories == {"communication"} and noted.ways == {"activity"}  # a note about the person
    assert paid.categories == {"financial"} and paid.ways == {"activity", "export"}  # a payment, then the statement
    assert result.by_category == {"identity": 1, "contact": 1, "financial": 1, "government_id": 1, "communication": 1}
    assert result.by_way == {"read": 1, "export": 1, "activity": 2}
    assert t.globex_debt.debtor_id not in result.people


def test_the_window_is_honoured_at_both_ends(t):
    alice = Scope(ScopeKind.USER, user_id=t.world.alice.pk)
    month_ago = t.end - timedelta(days=30)  # where the old reveal was moved
    old = _find(t, alice, start=month_ago - timedelta(days=1), end=month_ago + timedelta(days=1))
    assert set(old.people) == t.debtors("old_reveal")
    assert not _find(t, alice, start=t.end, end=t.end + timedelta(days=1)).people


def test_another_workspaces_user_finds_nobody_in_acme(t):
    # Bob revealed a Globex debtor in the same window: Acme's finder never sees it.
    assert not _find(t, Scope(ScopeKind.USER, user_id=t.world.bob.pk)).people


def test_an_api_keys_window_finds_the_detail_read_and_the_search_page(t):
    key = ApiKey.unscoped.get(workspace=t.world.a)
    result = _find(t, Scope(ScopeKind.API_KEY, api_key_id=str(key.pk)))
    assert set(result.people) == t.debtors("api_read", "searched")
    assert all(touch.categories == READ and touch.ways == {"read"} for touch in result.people.values())


def test_the_queue_export_finds_exactly_the_people_in_the_file(t):
    by_export = _find(t, Scope(ScopeKind.EXPORT, export_id=t.export_event.pk))
    by_manager = _find(t, Scope(ScopeKind.USER, user_id=t.manager.pk))
    assert set(by_export.people) == set(by_manager.people) == t.debtors("searched", "konkan_other")
    assert {touch.categories for touch in by_export.people.values()} == {frozenset({"financial"})}
    assert by_export.by_way == {"export": 2}
    assert by_export.events == 1


def test_a_client_statement_is_replayed_from_the_ledger(t):
    result = _find(t, Scope(ScopeKind.EXPORT, export_id=t.statement_event.pk))
    assert set(result.people) == t.debtors("paid")  # the only collection of the month
    assert result.by_category == {"financial": 1}
    assert result.client_ids == {str(t.sahyadri.pk)}


def test_a_portfolio_window_finds_who_was_read_or_exported_and_who_was_placed(t):
    konkan = Scope(ScopeKind.PORTFOLIO, client_id=str(t.konkan.pk))
    touched = _find(t, konkan)
    assert set(touched.people) == t.debtors("searched", "konkan_other")  # Sahyadri's reads are not Konkan's
    assert touched.people[t.debtor("searched")].ways == {"read", "export"}
    placed_at = t.start - timedelta(days=90)
    placed = _find(t, konkan, start=placed_at - timedelta(days=1), end=placed_at + timedelta(days=1))
    assert set(placed.people) == t.debtors("searched", "konkan_other")
    assert placed.by_way == {"placement": 2}
    assert placed.people[t.debtor("searched")].categories >= {"identity", "contact", "financial"}


def test_a_whole_client_and_the_whole_workspace(t):
    client = _find(t, Scope(ScopeKind.CLIENT, client_id=str(t.sahyadri.pk)))
    assert set(client.people) == t.debtors("revealed", "noted", "api_read", "old_reveal", "paid")
    assert client.start is None and client.end is None  # no window for a whole client
    assert client.by_way == {"client": 5}
    everyone = _find(t, Scope(ScopeKind.WORKSPACE))
    assert set(everyone.people) == {d.debtor_id for d in t.debts.values()}
    assert t.globex_debt.debtor_id not in everyone.people
    assert everyone.by_category == {c: 7 for c in Category.values if c in held_about_debtors()}


def test_exports_that_hold_no_debtor_or_did_not_record_their_people_are_reported(t):
    with workspace_context(t.world.a):
        # A remittance statement (per-client totals) and a queue export written before
        # exports recorded their people.
        remittance = audit_record(
            action=actions.REMITTANCE_EXPORTED, workspace=t.world.a, metadata={"period": "2026-03", "rows": 2}
        )
        legacy = audit_record(action=actions.DEBTS_EXPORTED, workspace=t.world.a, metadata={"rows": 40, "filters": []})
    assert _find(t, Scope(ScopeKind.EXPORT, export_id=remittance.pk)).no_people == {"remittance.exported": 1}
    old = _find(t, Scope(ScopeKind.EXPORT, export_id=legacy.pk))
    assert not old.people and old.unresolved == {"debts.exported": 1}


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        (Scope(ScopeKind.USER), "user"),
        (Scope(ScopeKind.API_KEY, api_key_id="not-a-key"), "api_key"),
        (Scope(ScopeKind.CLIENT, client_id="7c0b7a55-0000-4000-8000-000000000000"), "client"),
        (Scope("everyone"), "scope"),
    ],
)
def test_a_question_that_cannot_be_asked_is_refused(t, scope, field):
    with pytest.raises(ValidationError) as refused:
        _find(t, scope)
    assert field in refused.value.message_dict


def test_another_workspaces_key_client_or_export_is_refused(t):
    globex_reveal = AuditEvent.unscoped.filter(workspace=t.world.b, action=actions.PERSONAL_DATA_READ).get()
    globex_key = ApiKey.unscoped.get(workspace=t.world.b)
    globex_client = Client.unscoped.get(workspace=t.world.b)
    for scope in (
        Scope(ScopeKind.EXPORT, export_id=globex_reveal.pk),
        Scope(ScopeKind.API_KEY, api_key_id=str(globex_key.pk)),
        Scope(ScopeKind.CLIENT, client_id=str(globex_client.pk)),
    ):
        with pytest.raises(ValidationError):
            _find(t, scope)


def test_a_window_must_end_after_it_starts(t):
    with pytest.raises(ValidationError) as refused:
        _find(t, Scope(ScopeKind.USER, user_id=t.world.alice.pk), start=t.end, end=t.start)
    assert "end" in refused.value.message_dict
