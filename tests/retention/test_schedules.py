"""Periods per workspace (retention.schedules): the registry's default, the jurisdiction
profile's period with its law, the workspace's own — never below a legal minimum."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import User, Workspace
from accounts.services import workspace_create
from audit import actions
from audit.models import AuditEvent
from kernel.privacy.registry import COLLECTION_RECORDS, FINANCIAL_RECORDS, SECURITY_LOGS
from kernel.retention import period_days
from kernel.tenancy import workspace_context
from retention.models import RetentionSetting
from retention.schedules import (
    MAX_DAYS,
    period_for,
    periods,
    retention_setting_clear,
    retention_setting_set,
    rule_named,
    rules,
)
from tests.conftest import PASSWORD, World


def set_period(
    ws: Workspace,
    category: str,
    days: Any,
    reason: str = "Our client's contract asks for it",
    actor: User | None = None,
) -> RetentionSetting:
    with workspace_context(ws):
        return retention_setting_set(workspace=ws, category=category, days=days, reason=reason, actor=actor)


def period_changes(ws: Workspace) -> list[dict[str, Any]]:
    return [
        e.metadata
        for e in AuditEvent.unscoped.filter(workspace=ws, action=actions.RETENTION_PERIOD_CHANGED).order_by("seq")
    ]


def test_every_named_rule_has_a_period(world: World) -> None:
    names = set(rules())
    assert {"ACCOUNT_LIFETIME", "COLLECTION_RECORDS", "FINANCIAL_RECORDS", "SECURITY_LOGS"} <= names
    assert {"CONSENT_PROOF", "REQUEST_RECORDS"} <= names
    with workspace_context(world.a):
        assert set(periods(workspace=world.a)) == names


def test_the_profile_decides_where_the_workspace_has_not(world: World) -> None:
    with workspace_context(world.a):
        india = periods(workspace=world.a)
    logs = india["SECURITY_LOGS"]
    assert (logs.days, logs.minimum_days, logs.set_by) == (365, 365, "profile")
    assert logs.source.startswith("DPDP Rules 2025 r.8(3)") and logs.minimum_source == logs.source
    collection = india["COLLECTION_RECORDS"]  # India's profile says nothing: the registry's default
    assert (collection.days, collection.minimum_days, collection.set_by) == (3 * 365, None, "registry")
    assert collection.source == COLLECTION_RECORDS.source
    assert india["FINANCIAL_RECORDS"].source.startswith("Companies Act 2013")

    with workspace_context(world.b):
        us = periods(workspace=world.b)
    assert us["FINANCIAL_RECORDS"].days == 7 * 365 and "IRS" in us["FINANCIAL_RECORDS"].source
    assert us["COLLECTION_RECORDS"].source.startswith("12 CFR 1006.100(b)")
    assert us["SECURITY_LOGS"].set_by == "registry" and us["SECURITY_LOGS"].minimum_days is None


def test_a_workspace_may_lengthen_a_period_with_a_reason(world: World) -> None:
    setting = set_period(
        world.a, "financial_records", 10 * 365, reason="  Group policy:\n ten years ", actor=world.alice
    )

    assert setting.category == "FINANCIAL_RECORDS" and setting.reason == "Group policy: ten years"
    with workspace_context(world.a):
        period = period_for(workspace=world.a, rule=FINANCIAL_RECORDS)
        assert period_days(world.a, FINANCIAL_RECORDS) == 10 * 365  # what the engine and erasure read
    assert (period.days, period.set_by) == (10 * 365, "workspace")
    assert period.source == "set by the workspace: Group policy: ten years"
    assert period.profile_days == 8 * 365 and period.minimum_days == 8 * 365  # still shown beside it
    assert period_changes(world.a) == [{"category": "FINANCIAL_RECORDS", "days": 3650, "was": 2920}]
    event = AuditEvent.unscoped.get(workspace=world.a, action=actions.RETENTION_PERIOD_CHANGED)
    assert event.actor_user_id == world.alice.pk

    with workspace_context(world.b):  # another workspace keeps its own
        assert period_for(workspace=world.b, rule=FINANCIAL_RECORDS).days == 7 * 365
    assert period_days(None, FINANCIAL_RECORDS) == FINANCIAL_RECORDS.days  # no workspace: the registry


def test_changing_it_again_keeps_one_setting(world: World) -> None:
    set_period(world.a, "COLLECTION_RECORDS", 2000)
    set_period(world.a, "COLLECTION_RECORDS", 1500, reason="Shorter after review")
    with workspace_context(world.a):
        assert list(RetentionSetting.objects.values_list("category", "days")) == [("COLLECTION_RECORDS", 1500)]
    assert [m["was"] for m in period_changes(world.a)] == [3 * 365, 2000]


@pytest.mark.parametrize(
    ("ws", "category", "days", "law"),
    [
        ("a", "SECURITY_LOGS", 300, "At least 365 days: DPDP Rules 2025 r.8(3)"),
        ("a", "FINANCIAL_RECORDS", 5 * 365, "At least 2920 days: Companies Act 2013 s.128(5)"),
        ("b", "FINANCIAL_RECORDS", 365, "At least 2555 days: IRS record keeping"),
        ("b", "COLLECTION_RECORDS", 30, "At least 1095 days: 12 CFR 1006.100(b)"),
    ],
)
def test_below_a_legal_minimum_is_refused_naming_the_law(
    world: World, ws: str, category: str, days: int, law: str
) -> None:
    workspace = getattr(world, ws)
    with pytest.raises(ValidationError) as refused:
        set_period(workspace, category, days)
    assert refused.value.message_dict["days"][0].startswith(law)
    assert "requires keeping it that long" in refused.value.message_dict["days"][0]
    with workspace_context(workspace):
        assert not RetentionSetting.objects.exists()
    assert period_changes(workspace) == []


def test_the_minimum_itself_may_be_set_and_periods_only_lengthened(world: World) -> None:
    assert set_period(world.a, "SECURITY_LOGS", 365).days == 365
    assert set_period(world.b, "SECURITY_LOGS", 400).days == 400
    with pytest.raises(ValidationError) as refused:  # no US law sets a floor, but a workspace only lengthens
        set_period(world.b, "SECURITY_LOGS", 30)
    assert "may lengthen this period, not shorten it" in str(refused.value.message_dict["days"])

    za = workspace_create(
        slug="kaap", name="Kaap Invorder", owner_email="za@example.com", owner_password=PASSWORD, jurisdiction="ZA"
    )
    with workspace_context(za):
        before = period_for(workspace=za, rule=COLLECTION_RECORDS)
    assert before.profile_days == 3 * 365 and before.minimum_days is None  # POPIA: a default, not a floor
    assert set_period(za, "COLLECTION_RECORDS", 4 * 365).days == 4 * 365
    with pytest.raises(ValidationError):
        set_period(za, "COLLECTION_RECORDS", 2 * 365)


def test_a_setting_below_a_new_jurisdictions_minimum_does_not_count(world: World) -> None:
    za = workspace_create(
        slug="kaap2", name="Kaap Invorder", owner_email="za2@example.com", owner_password=PASSWORD, jurisdiction="ZA"
    )
    set_period(za, "FINANCIAL_RECORDS", 5 * 365)  # ZA's minimum
    za.jurisdiction = "EU"  # the workspace moves: the EU profile keeps books 10 years
    za.save(update_fields=["jurisdiction"])
    with workspace_context(za):
        now = period_for(workspace=za, rule=FINANCIAL_RECORDS)
    assert now.days == 10 * 365 and "below this jurisdiction's period" in now.source


@pytest.mark.parametrize(
    ("category", "days", "reason", "field", "message"),
    [
        ("SECURITY_LOGS", 400, "   ", "reason", "Say why"),
        ("SECURITY_LOGS", 0, "why", "days", "A number of days from 1"),
        ("SECURITY_LOGS", MAX_DAYS + 1, "why", "days", "A number of days from 1"),
        ("SECURITY_LOGS", "400", "why", "days", "A number of days from 1"),
        ("EVERYTHING", 400, "why", "category", "No retention category called 'EVERYTHING'"),
    ],
)
def test_bad_input_is_refused(world: World, category: str, days: object, reason: str, field: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        set_period(world.a, category, days, reason=reason)
    assert refused.value.message_dict[field][0].startswith(message)
    assert period_changes(world.a) == []


def test_clearing_goes_back_to_the_profile(world: World) -> None:
    set_period(world.a, "SECURITY_LOGS", 500)
    with workspace_context(world.a):
        retention_setting_clear(workspace=world.a, category="security_logs", actor=world.alice)
        period = period_for(workspace=world.a, rule=SECURITY_LOGS)
        retention_setting_clear(workspace=world.a, category="SECURITY_LOGS")  # nothing to clear: nothing happens
    assert (period.days, period.set_by) == (365, "profile")
    assert period_changes(world.a)[1:] == [{"category": "SECURITY_LOGS", "days": 365, "was": 500}]


def test_rule_named_is_case_insensitive_and_strict() -> None:
    assert rule_named("security_logs") is rules()["SECURITY_LOGS"]
    with pytest.raises(ValidationError):
        rule_named("SECURITY")
