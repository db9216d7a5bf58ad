"""The consent app's retention stores (consent/retention.py): proof of consent is kept
CONSENT_PROOF after the consent *ended*, a person's standing choice is never deleted,
contact decisions go with their debt's collection records, and holds keep what they
cover."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Client, User, Workspace
from accounts.services import user_account_delete
from consent.models import (
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    ContactAttempt,
    PolicyAcceptance,
    PolicyKind,
    Purpose,
    VisitorConsent,
)
from consent.services import consent_record, contact_decide, policies_accept, policy_publish, visitor_consent_record
from debtors.models import Debt, Debtor, HoldReason, HoldScope
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from kernel.crypto.keyring import subject_key_for, subject_key_shred
from kernel.models import SubjectKey
from kernel.tenancy import workspace_context
from kernel.tenancy.rls import prune_append_only
from retention.engine import purge_run
from retention.holds import legal_hold_place
from retention.models import PurgeRun, RunStatus
from tests.conftest import PASSWORD, World

PROOF = 6 * 365  # CONSENT_PROOF
COLLECTION = 3 * 365  # COLLECTION_RECORDS


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def purge(workspace: Workspace | None, store: str, now: datetime, *, dry_run: bool = False) -> PurgeRun:
    run = purge_run(workspace=workspace, category=store, now=now, dry_run=dry_run)
    assert run.status == RunStatus.DONE, run.errors
    return run


def _ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def _person(workspace: Workspace, name: str) -> Debtor:
    return debtor_create(workspace=workspace, data=DebtorInput(full_name=name, email=f"{name.lower()}@example.com"))


def _hold_person(workspace: Workspace, debtor: Debtor) -> None:
    legal_hold_place(
        workspace=workspace,
        scope=HoldScope.DEBTOR,
        reason=HoldReason.LITIGATION,
        review_on=timezone.localdate() + timedelta(days=90),
        debtor=debtor,
    )


# --- Consent records (per workspace, append-only) -------------------------------------------


def _consent(workspace: Workspace, debtor: Debtor, purpose: str, action: str, days_ago: int, now: datetime) -> Any:
    with workspace_context(workspace):
        row = consent_record(
            workspace=workspace,
            subject_type="debtor",
            subject_id=str(debtor.pk),
            purpose=purpose,
            action=action,
            source=ConsentSource.AGENT_CALL,
        )
    # The ledger is append-only for the application; a test dates rows as the owner.
    ConsentRecord.unscoped.filter(pk=row.pk).update(created_at=_ago(now, days_ago))
    return row.pk


def _seed_consents(workspace: Workspace, now: datetime) -> dict[str, Any]:
    """Named records: ``due`` ones end past CONSENT_PROOF, the others do not."""
    grant, withdraw = ConsentAction.GRANT, ConsentAction.WITHDRAW
    email, sms = Purpose.CONTACT_EMAIL, Purpose.CONTACT_SMS
    with workspace_context(workspace):
        ended, recent, erased, held, standing = (
            _person(workspace, n) for n in ("Asha", "Ravi", "Meera", "Kiran", "Neha")
        )
    rows = {
        # withdrawn 2300 days ago: the grant ended then; the withdrawal is the standing choice
        "due_grant_withdrawn_long_ago": _consent(workspace, ended, email, grant, 2600, now),
        "standing_withdrawal": _consent(workspace, ended, email, withdraw, 2300, now),
        # given again 1000 days ago: the first grant ended too recently
        "grant_superseded_recently": _consent(workspace, recent, sms, grant, 2600, now),
        "standing_grant": _consent(workspace, recent, sms, grant, 1000, now),
        # the person was erased: their last choice ended with them
        "due_erased_persons_choice": _consent(workspace, erased, email, withdraw, 2500, now),
        # held: kept whatever its age
        "held_grant": _consent(workspace, held, email, grant, 2600, now),
        "held_withdrawal": _consent(workspace, held, email, withdraw, 2300, now),
        # an old choice nobody superseded: the person is still on file
        "standing_old_grant": _consent(workspace, standing, Purpose.CONTACT_PHONE, grant, 3000, now),
    }
    with workspace_context(workspace):
        subject_key_for(workspace.pk, "debtor", str(erased.pk))
        subject_key_shred(workspace.pk, "debtor", str(erased.pk))
        SubjectKey.objects.for_workspace(workspace).filter(subject_id=str(erased.pk)).update(
            shredded_at=_ago(now, 2200)
        )
        _hold_person(workspace, held)
    return rows


def _consents_left(workspace: Workspace, rows: dict[str, Any]) -> set[str]:
    with workspace_context(workspace):
        kept = set(ConsentRecord.objects.for_workspace(workspace).values_list("pk", flat=True))
    return {name for name, pk in rows.items() if pk in kept}


def test_consent_proof_goes_six_years_after_the_consent_ended(world: World, now: datetime) -> None:
    rows_a = _seed_consents(world.a, now)
    rows_b = _seed_consents(world.b, now)
    due = {"due_grant_withdrawn_long_ago", "due_erased_persons_choice"}

    dry = purge(world.a, "consent.records", now, dry_run=True)
    assert dry.counts == {"CONSENT_PROOF": {"delete": 2}}
    assert _consents_left(world.a, rows_a) == set(rows_a)  # a dry run changes nothing

    run = purge(world.a, "consent.records", now)

    assert run.counts == {"CONSENT_PROOF": {"delete": 2}}
    assert _consents_left(world.a, rows_a) == set(rows_a) - due
    assert _consents_left(world.b, rows_b) == set(rows_b)  # Globex's run is its own
    assert purge(world.a, "consent.records", now).counts == {}
    assert purge(world.b, "consent.records", now).counts == {"CONSENT_PROOF": {"delete": 2}}
    assert _consents_left(world.b, rows_b) == set(rows_b) - due


def test_a_standing_choice_is_never_due_and_a_hold_keeps_everything(world: World, now: datetime) -> None:
    rows = _seed_consents(world.a, now)
    purge(world.a, "consent.records", now)
    # Ten years on: superseded records are due at last; standing choices and held ones are not.
    later = purge(world.a, "consent.records", now + timedelta(days=3650))
    assert later.counts == {"CONSENT_PROOF": {"delete": 1}}  # the grant given again 1000 days ago
    assert _consents_left(world.a, rows) == {
        "standing_withdrawal",
        "standing_grant",
        "standing_old_grant",
        "held_grant",
        "held_withdrawal",
    }


def test_the_database_refuses_to_prune_a_standing_choice(pg: None, world: World, now: datetime) -> None:
    rows = _seed_consents(world.a, now)
    with workspace_context(world.a):
        person = Debtor.objects.for_workspace(world.a).order_by("created_at").first()
    assert person is not None
    recent = _consent(world.a, person, Purpose.MARKETING, ConsentAction.GRANT, 10, now)
    _consent(world.a, person, Purpose.MARKETING, ConsentAction.WITHDRAW, 5, now)
    with workspace_context(world.a):
        # The guard of the prune function, whatever the caller asks.
        assert prune_append_only(ConsentRecord, [rows["standing_withdrawal"], rows["standing_old_grant"]]) == 0
        assert prune_append_only(ConsentRecord, [recent]) == 0  # superseded, but younger than the floor
        assert prune_append_only(ConsentRecord, [rows["due_grant_withdrawn_long_ago"]]) == 1
    assert _consents_left(world.a, rows) == set(rows) - {"due_grant_withdrawn_long_ago"}


# --- Contact decisions (COLLECTION_RECORDS after the debt's last activity) ------------------


def _debt(workspace: Workspace, reference: str, *, status: str, activity_days: int, now: datetime) -> Debt:
    with workspace_context(workspace):
        client = Client.objects.for_workspace(workspace).first()
        assert client is not None
        debt = debt_create(
            workspace=workspace,
            client=client,
            debtor=_person(workspace, f"Person{reference.replace('-', '')}"),
            data=DebtInput(reference=reference, original_amount_minor=10_000, currency=workspace.currency),
        )
        when = _ago(now, activity_days)
        Debt.objects.for_workspace(workspace).filter(pk=debt.pk).update(
            status=status, created_at=when, updated_at=when, last_contact_at=when
        )
        debt.refresh_from_db()
    return debt


def _decisions(workspace: Workspace, debt: Debt, days_ago: int, now: datetime, n: int = 2) -> None:
    with workspace_context(workspace):
        for _ in range(n):
            contact_decide(debt=debt, channel="email")
        ContactAttempt.objects.for_workspace(workspace).filter(debt=debt).update(decided_at=_ago(now, days_ago))


def _decisions_left(workspace: Workspace) -> dict[str, int]:
    with workspace_context(workspace):
        rows = ContactAttempt.objects.for_workspace(workspace).values_list("debt__reference", flat=True)
        return {ref: list(rows).count(ref) for ref in set(rows)}


def _seed_debts(workspace: Workspace, now: datetime) -> None:
    over = _debt(workspace, "OVER-1", status="paid", activity_days=COLLECTION + 100, now=now)
    recent = _debt(workspace, "RECENT-1", status="settled", activity_days=COLLECTION - 100, now=now)
    open_one = _debt(workspace, "OPEN-1", status="active", activity_days=COLLECTION + 100, now=now)
    held = _debt(workspace, "HELD-1", status="closed", activity_days=COLLECTION + 100, now=now)
    for debt in (over, recent, open_one, held):
        _decisions(workspace, debt, COLLECTION + 150 if debt != recent else COLLECTION - 150, now)
    with workspace_context(workspace):
        legal_hold_place(
            workspace=workspace,
            scope=HoldScope.DEBT,
            reason=HoldReason.REGULATOR,
            review_on=timezone.localdate() + timedelta(days=30),
            debt=held,
        )


def test_contact_decisions_go_with_the_collection_records_of_a_debt_that_is_over(world: World, now: datetime) -> None:
    _seed_debts(world.a, now)
    _seed_debts(world.b, now)
    everything = {"OVER-1": 2, "RECENT-1": 2, "OPEN-1": 2, "HELD-1": 2}

    dry = purge(world.a, "consent.contact_attempts", now, dry_run=True)
    assert dry.counts == {"COLLECTION_RECORDS": {"delete": 2}} and _decisions_left(world.a) == everything
    assert all("OVER-1" in line for line in dry.progress["consent.contact_attempts"]["listing"])

    run = purge(world.a, "consent.contact_attempts", now)

    assert run.counts == {"COLLECTION_RECORDS": {"delete": 2}}
    assert _decisions_left(world.a) == {"RECENT-1": 2, "OPEN-1": 2, "HELD-1": 2}
    assert _decisions_left(world.b) == everything
    assert purge(world.a, "consent.contact_attempts", now).counts == {}


# --- Policy acceptances and cookie choices (global) -----------------------------------------


def _accepted(user: User, policy: Any, days_ago: int, now: datetime) -> None:
    policies_accept(user=user, policies=[policy])
    PolicyAcceptance.objects.filter(user=user, policy=policy).update(accepted_at=_ago(now, days_ago))


def test_policy_acceptances_go_six_years_after_a_later_version_or_the_account(world: World, now: datetime) -> None:
    v1 = policy_publish(kind=PolicyKind.PRIVACY, version="1", text="First privacy policy", material_change=True)
    v2 = policy_publish(kind=PolicyKind.PRIVACY, version="2", text="Second privacy policy", material_change=True)
    terms = policy_publish(kind=PolicyKind.TERMS, version="1", text="Terms", material_change=True)
    _accepted(world.alice, v1, 2600, now)  # superseded 2300 days ago: due
    _accepted(world.alice, v2, 2300, now)
    _accepted(world.alice, terms, 2600, now)  # another policy: v2 does not supersede it
    _accepted(world.bob, v1, 2600, now)  # superseded 100 days ago
    _accepted(world.bob, v2, 100, now)
    dave = User.objects.create_user(email="dave@example.com", password=PASSWORD)
    _accepted(dave, v1, 2600, now)
    user_account_delete(user=dave, reason="self_service")  # deleted today: six years from today
    pairs = lambda: set(PolicyAcceptance.objects.values_list("user__email", "policy__version", "policy__kind"))  # noqa: E731
    before = pairs()

    assert purge(None, "consent.policy_acceptances", now, dry_run=True).counts == {"CONSENT_PROOF": {"delete": 1}}
    assert pairs() == before
    run = purge(None, "consent.policy_acceptances", now)

    assert run.counts == {"CONSENT_PROOF": {"delete": 1}}
    assert pairs() == before - {("alice@example.com", "1", "privacy")}
    assert purge(None, "consent.policy_acceptances", now).counts == {}
    later = purge(None, "consent.policy_acceptances", now + timedelta(days=PROOF + 1))
    assert later.counts == {"CONSENT_PROOF": {"delete": 2}}  # bob's first version, and the deleted account's
    assert pairs() == {
        ("alice@example.com", "2", "privacy"),
        ("alice@example.com", "1", "terms"),
        ("bob@example.com", "2", "privacy"),
    }


def _choice(visitor: str, analytics: bool, days_ago: int, now: datetime) -> Any:
    row = visitor_consent_record(visitor_id=visitor, analytics=analytics)
    VisitorConsent.objects.filter(pk=row.pk).update(created_at=_ago(now, days_ago))
    return row.pk


def test_cookie_choices_go_six_years_after_the_choice_ended(world: World, now: datetime) -> None:
    due = {_choice("x" * 32, True, 2700, now), _choice("x" * 32, False, 2600, now)}  # changed, then the cookie expired
    kept = {
        _choice("y" * 32, True, 2400, now),  # its cookie expired 2035 days ago: not yet six years
        _choice("z" * 32, False, 100, now),
    }

    dry = purge(None, "consent.visitor_consents", now, dry_run=True)
    assert dry.counts == {"CONSENT_PROOF": {"delete": 2}} and VisitorConsent.objects.count() == 4
    run = purge(None, "consent.visitor_consents", now)

    assert run.counts == {"CONSENT_PROOF": {"delete": 2}}
    assert set(VisitorConsent.objects.values_list("pk", flat=True)) == kept
    assert not VisitorConsent.objects.filter(pk__in=due).exists()
    assert purge(None, "consent.visitor_consents", now).counts == {}
