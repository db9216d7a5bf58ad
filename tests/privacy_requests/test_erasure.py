"""Erasure of a debtor: the plan from the registry, approval, the idempotent and
resumable execution, the statement, and what erasure used to miss (blind indexes,
the debt page after a shred, unencrypted documents, free-text fields, the key cache
of other processes)."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.http import Http404

from accounts.models import User
from accounts.roles import Role
from audit.models import AuditEvent
from communications.models import Communication
from consent.models import ConsentRecord
from debtors.models import Debt, DebtEvent, Debtor, DebtorContact, Dispute, Document, LedgerEntry, Note
from debtors.selectors import exact_search_filter
from debtors.services import records
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.ledger import adjustment_post
from kernel.crypto import keyring
from kernel.crypto.fields import Erased
from kernel.privacy.registry import Erasure, declaration_for, declarations, rows_for_subject
from kernel.tenancy import workspace_context
from payments.models import LinkStatus, PaymentLink
from privacy_requests import erasure
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.erasure_rules import APPLIED, erasure_decide, redact
from privacy_requests.models import ErasurePlan, PlanStatus, PrivacyRequest, RequestStatus
from tests.conftest import add_member, api, login
from tests.debtors.factories import make_debt
from tests.privacy_requests.erasure_world import (
    PNG,
    Person,
    build_person,
    files_containing,
    ledger_totals,
    scan_for,
    table_rows,
)


def _plan(person: Person, actor: User) -> ErasurePlan:
    with workspace_context(person.workspace):
        return erasure.erasure_plan(
            workspace=person.workspace, debtor=person.debtor, request=person.request, actor=actor
        )


def _erase(person: Person, actor: User, capture) -> ErasurePlan:
    plan = _plan(person, actor)
    with workspace_context(person.workspace):
        plan = erasure.erasure_approve(plan=plan, actor=actor)
    with capture(execute=True):
        return erasure.erasure_execute(plan=plan)


def _reload(person: Person) -> Debtor:
    with workspace_context(person.workspace):
        return Debtor.objects.for_workspace(person.workspace).get(pk=person.debtor.pk)


@pytest.fixture
def person(world, private_storage) -> Person:
    with workspace_context(world.a):
        return build_person(world.a)


# --- The plan ------------------------------------------------------------------------------


def test_the_plan_covers_every_registered_field_and_changes_nothing(world, person):
    before = {t: rows for t, rows in table_rows().items() if not t.startswith(("audit_", "privacy_requests_"))}
    plan = _plan(person, world.alice)
    assert plan.status == PlanStatus.DRAFT
    after = {t: rows for t, rows in table_rows().items() if not t.startswith(("audit_", "privacy_requests_"))}
    assert after == before  # a dry run: nothing of the person's changed
    planned = {(e["model"], e["field"]) for e in plan.plan["entries"]}
    # Every field the registry declares for a debtor, on every record the person has.
    for decl in declarations():
        if decl.subject_type != "debtor":
            continue
        label = decl.model._meta.label_lower
        with workspace_context(world.a):
            has_rows = any(
                row.model is decl.model
                for row in rows_for_subject(subject_type="debtor", subject_id=person.debtor.pk, workspace=world.a)
            )
        if has_rows:
            assert {(label, name) for name in decl.fields} <= planned, label
    entries = {(e["model"], e["field"], e["action"]) for e in plan.plan["entries"]}
    assert ("debtors.debtor", "full_name", "pseudonymise") in entries
    assert ("debtors.debtor", "email_bidx", "delete") in entries
    assert ("debtors.ledgerentry", "memo", "keep") in entries
    assert plan.plan["books"]["ledger_entries"] == 4 and plan.plan["books"]["until"]
    assert plan.plan["holds"] == [] and plan.plan["unhandled"] == []
    assert "audit" in plan.plan["audit_chain"]
    # KEEP_UNTIL has a date from the row's last relevant date, and the law.
    memo = next(e for e in plan.plan["entries"] if e["field"] == "memo")
    assert memo["until"][:2] == "20" and "accounting" in memo["law"]
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action="erasure.planned", object_id=str(plan.pk)).exists()
        assert PrivacyRequest.objects.get(pk=person.request.pk).status == RequestStatus.IN_PROGRESS


def test_a_plan_is_for_a_debtor_of_this_workspace_only(world, person):
    with workspace_context(world.b), pytest.raises(ValidationError):
        erasure.erasure_plan(workspace=world.b, debtor=person.debtor)


def test_only_managers_admins_owners_or_the_privacy_contact_approve(world, person):
    agent = add_member(world.a, "agent@acme.example", Role.AGENT)
    manager = add_member(world.a, "manager@acme.example", Role.MANAGER)
    contact_agent = add_member(world.a, "dpo@acme.example", Role.AGENT)
    plan = _plan(person, world.alice)
    with workspace_context(world.a):
        for who in (agent, world.bob, world.charlie, None):
            with pytest.raises(PermissionDenied):
                erasure.erasure_approve(plan=plan, actor=who)
        assert erasure.erasure_approve(plan=plan, actor=manager).status == PlanStatus.APPROVED
        with pytest.raises(ValidationError):  # once
            erasure.erasure_approve(plan=plan, actor=manager)
        privacy_contact_save(
            workspace=world.a,
            contact_user=contact_agent,
            contact_name="Data protection officer",
            contact_email="dpo@acme.example",
            contact_phone="",
            grievance_period_days=None,
        )
        second = erasure.erasure_plan(workspace=world.a, debtor=person.debtor, request=person.request)
        assert erasure.erasure_approve(plan=second, actor=contact_agent).approved_by == contact_agent
        assert AuditEvent.objects.filter(action="erasure.approved", object_id=str(second.pk)).exists()


def test_an_unverified_request_cannot_be_approved(world, private_storage):
    with workspace_context(world.a):
        person = build_person(world.a)
        PrivacyRequest.objects.filter(pk=person.request.pk).update(status=RequestStatus.AWAITING_VERIFICATION)
        person.request.refresh_from_db()
        plan = erasure.erasure_plan(workspace=world.a, debtor=person.debtor, request=person.request)
        with pytest.raises(ValidationError):
            erasure.erasure_approve(plan=plan, actor=world.alice)


def test_every_debtor_record_with_plain_fields_to_change_has_an_eraser():
    """A new model declared for debtors with a plain field to delete or pseudonymise
    needs an app service (erasure refuses to run otherwise): this names it."""
    missing = []
    for decl in declarations():
        if decl.subject_type != "debtor" or decl.model._meta.label_lower in APPLIED:
            continue
        if getattr(decl.model, "rls_append_only", False):
            continue
        for name, pd in decl.fields.items():
            if pd.erasure != Erasure.KEEP_UNTIL and not pd.sensitive:
                missing.append(f"{decl.model._meta.label_lower}.{name}")
    assert missing == []


# --- Execution: the "Done when" list --------------------------------------------------------


def test_after_erasure_no_table_holds_the_persons_values(
    world, person, private_storage, django_capture_on_commit_callbacks
):
    with workspace_context(world.a):
        bystander = build_person(world.a, with_request=False, suffix="-other")
    needles = list(person.values.values()) + person.digests
    assert scan_for(needles)  # they are there before (the digests and external ref are plain)
    assert files_containing(private_storage, PNG) == []  # documents are stored encrypted
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert plan.status == PlanStatus.DONE
    assert scan_for(needles) == []
    # Nothing on disk decrypts any more: the document's file is gone from storage.
    with workspace_context(world.a):
        assert not Document.objects.for_workspace(world.a).filter(debtor_id=person.debtor.pk).exists()
        kept_docs = [d.storage_name for d in Document.objects.for_workspace(world.a)]
    assert {p.relative_to(private_storage).as_posix() for p in private_storage.rglob("*") if p.is_file()} == set(
        kept_docs
    )
    # The other debtor is untouched.
    other = [v for k, v in bystander.values.items() if k in ("full_name", "email", "national_id")]
    with workspace_context(world.a):
        other_debtor = Debtor.objects.for_workspace(world.a).get(pk=bystander.debtor.pk)
        assert [other_debtor.full_name, other_debtor.email, other_debtor.national_id] == other
        assert records.document_content(Document.objects.for_workspace(world.a).get(debtor=other_debtor)) == PNG


def test_erasure_keeps_the_books_and_the_audit_chain(world, person, django_capture_on_commit_callbacks):
    per_debt, total, balances = ledger_totals(world.a)
    with workspace_context(world.a):
        debt_balances = {d.pk: d.balance_minor for d in Debt.objects.for_workspace(world.a)}
        entries = LedgerEntry.objects.for_workspace(world.a).count()
    _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert ledger_totals(world.a) == (per_debt, total, balances)
    with workspace_context(world.a):
        assert {d.pk: d.balance_minor for d in Debt.objects.for_workspace(world.a)} == debt_balances
        assert LedgerEntry.objects.for_workspace(world.a).count() == entries
    call_command("verify_audit_chain")  # raises CommandError if any chain is broken


def test_the_identity_is_pseudonymised_and_the_rest_deleted(world, person, django_capture_on_commit_callbacks):
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    debtor = _reload(person)
    with workspace_context(world.a):
        assert debtor.full_name == plan.plan["pseudonym"] == f"Erased person {str(debtor.pk).replace('-', '')[-8:]}"
        assert (debtor.email, debtor.phone, debtor.address, debtor.date_of_birth, debtor.national_id) == (None,) * 5
        assert (debtor.email_bidx, debtor.phone_bidx, debtor.national_id_bidx, debtor.full_name_bidx) == ("",) * 4
        assert (debtor.external_ref, debtor.timezone, debtor.preferred_language) == ("", "", "")
        assert not DebtorContact.objects.for_workspace(world.a).filter(debtor=debtor).exists()
        assert not Note.objects.for_workspace(world.a).filter(debtor=debtor).exists()
        comms = list(Communication.objects.for_workspace(world.a).filter(debtor=debtor))
        assert len(comms) == 2 and all(c.content is None for c in comms)  # the contacts stay, not what was said
        dispute = Dispute.objects.for_workspace(world.a).get(debtor=debtor)
        assert dispute.details == person.values["dispute_details"]  # kept (1006.38), under the retention key
        assert dispute.resolution == "[erased] showed no proof; verified"
        assert PaymentLink.objects.for_workspace(world.a).get(debtor=debtor).status == LinkStatus.REVOKED
        assert keyring.subject_key_is_shredded(world.a.pk, "debtor", str(debtor.pk))
        assert not keyring.subject_key_is_shredded(world.a.pk, "debtor.retained", str(debtor.pk))
        assert not debtor.processing_restricted  # nothing of the identity is kept
        request = PrivacyRequest.objects.for_workspace(world.a).get(pk=person.request.pk)
        # A closed dispute's details are kept under 12 CFR 1006.38: partly fulfilled, and said why.
        assert request.status == RequestStatus.PARTLY_FULFILLED
        executed = AuditEvent.objects.get(action="erasure.executed", object_id=str(plan.pk))
        assert executed.metadata["key_shredded"] is True and executed.metadata["to_change"] > 0


def test_the_statement_goes_to_the_requester_and_the_client_is_told(world, person, django_capture_on_commit_callbacks):
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    statement = plan.statement
    assert statement["outcome"] == "partly_fulfilled"
    text = statement["text"]
    assert "What we erased" in text and "What we kept, why and until when" in text
    assert "Erased person" in text and "12 CFR 1006.38" in text and "The books of 2 debts" in text
    assert "audit trail is unchanged" in text
    for value in person.values.values():
        assert value not in text
    to_requester = [m for m in mail.outbox if m.to == [person.values["email"]]]
    assert len(to_requester) == 1 and to_requester[0].body == text
    to_client = [m for m in mail.outbox if m.to == [person.client_member_email]]
    assert len(to_client) == 1 and "ZQ-1, ZQ-2" in to_client[0].subject
    assert person.values["full_name"] not in to_client[0].body
    with workspace_context(world.a):
        notes = DebtEvent.objects.for_workspace(world.a).filter(kind="privacy.erasure")
        assert {e.debt_id for e in notes} == {d.pk for d in person.debts}
    assert plan.progress["notify"] == ""  # the captured address is forgotten once used


def test_running_the_erasure_twice_changes_nothing(world, person, django_capture_on_commit_callbacks):
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    before = table_rows()
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        again = erasure.erasure_execute(plan=plan)
    assert again.status == PlanStatus.DONE
    assert table_rows() == before
    assert len(mail.outbox) == sent
    with workspace_context(world.a):
        preview = erasure.erasure_preview(workspace=world.a, debtor=_reload(person))
    assert preview["has_work"] is False and preview["counts"]["to_change"] == 0


def test_a_run_that_died_is_continued_and_does_each_step_once(
    world, person, monkeypatch, django_capture_on_commit_callbacks
):
    plan = _plan(person, world.alice)
    with workspace_context(world.a):
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(erasure, "debtor_erase", crash)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        erasure.erasure_execute(plan=plan)
    with workspace_context(world.a):
        plan.refresh_from_db()
        assert plan.status == PlanStatus.RUNNING
        assert set(plan.progress["steps"]) == {"decide", "records"}
        assert not Note.objects.for_workspace(world.a).filter(debtor_id=person.debtor.pk).exists()
        records_events = AuditEvent.objects.filter(action="personal_data.erased").count()
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        plan = erasure.erasure_execute(plan=plan)
    assert plan.status == PlanStatus.DONE and set(plan.progress["steps"]) == set(erasure.STEPS)
    with workspace_context(world.a):
        # Only the identity was erased on the second run (one more "erased" event).
        assert AuditEvent.objects.filter(action="personal_data.erased").count() == records_events + 1
    assert scan_for(list(person.values.values()) + person.digests) == []


def test_the_erasure_task_runs_once_the_transaction_commits(world, person, django_capture_on_commit_callbacks):
    plan = _plan(person, world.alice)
    with workspace_context(world.a):
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)
        with django_capture_on_commit_callbacks(execute=False) as queued:
            erasure.erasure_queue(plan=plan)
        assert ErasurePlan.objects.get(pk=plan.pk).status == PlanStatus.APPROVED
    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()  # the eager task: as the worker would
    with workspace_context(world.a):
        assert ErasurePlan.objects.get(pk=plan.pk).status == PlanStatus.DONE


def test_a_draft_plan_is_not_run(world, person):
    plan = _plan(person, world.alice)
    with pytest.raises(ValidationError):
        erasure.erasure_execute(plan=plan)
    with workspace_context(world.a), pytest.raises(ValidationError):
        erasure.erasure_queue(plan=plan)


# --- Holds -----------------------------------------------------------------------------------


def test_a_legal_hold_keeps_what_it_covers_and_the_statement_says_so(
    world, private_storage, django_capture_on_commit_callbacks
):
    with workspace_context(world.a):
        person = build_person(world.a, legal_hold=True)
        held = person.debts[1]
        held_message = Communication.objects.for_workspace(world.a).get(debt=held).pk
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert plan.plan["holds"][0]["reference"] == "ZQ-2" and plan.plan["holds"][0]["kind"] == "legal_hold"
    debtor = _reload(person)
    with workspace_context(world.a):
        # Who the person is stays readable (under the retention key) though their own key is gone.
        assert keyring.subject_key_is_shredded(world.a.pk, "debtor", str(debtor.pk))
        assert (debtor.full_name, debtor.email) == (person.values["full_name"], person.values["email"])
        assert debtor.processing_restricted  # used for the hold only
        assert Communication.objects.for_workspace(world.a).get(pk=held_message).content == person.values["note"]
        # The debt that is not held loses its records.
        assert not Note.objects.for_workspace(world.a).filter(debtor=debtor).exists()
        assert Communication.objects.for_workspace(world.a).get(debt=person.debts[0]).content is None
        assert PrivacyRequest.objects.get(pk=person.request.pk).status == RequestStatus.PARTLY_FULFILLED
    text = plan.statement["text"]
    assert "Debt ZQ-2 is under a legal hold" in text and "until the legal hold is lifted" in text
    assert "GDPR Art. 17(3)(e)" in text
    # Running it again changes nothing; once the hold is lifted a new plan erases the rest.
    before = table_rows()
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erasure_execute(plan=plan)
    assert table_rows() == before
    with workspace_context(world.a):
        Debt.objects.filter(pk=held.pk).update(legal_hold=False)
        PrivacyRequest.objects.filter(pk=person.request.pk).update(status=RequestStatus.IN_PROGRESS)
    person.request.refresh_from_db()
    later = _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert later.plan["holds"] == []
    with workspace_context(world.a):
        assert keyring.subject_key_is_shredded(world.a.pk, "debtor.retained", str(debtor.pk)) is False  # dispute kept
        assert _reload(person).full_name.startswith("Erased person")
    assert scan_for([v for k, v in person.values.items() if k != "dispute_details"] + person.digests) == []


def test_an_open_dispute_keeps_what_it_covers(world, private_storage, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        person = build_person(world.a, open_dispute=True)
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert [h["kind"] for h in plan.plan["holds"]] == ["open_dispute"]
    with workspace_context(world.a):
        debtor = _reload(person)
        assert debtor.address == person.values["address"]  # the verification must reach them (1006.38)
        open_dispute = Dispute.objects.for_workspace(world.a).get(debt=person.debts[1], status="open")
        assert open_dispute.details.endswith("(second)")
    assert "Debt ZQ-2 is disputed (the dispute is open)" in plan.statement["text"]
    assert "12 CFR 1006.38" in plan.statement["text"]
    assert plan.statement["outcome"] == "partly_fulfilled"


# --- What erasure missed ---------------------------------------------------------------------


def test_miss_exact_search_no_longer_finds_the_person(world, person, django_capture_on_commit_callbacks):
    """Blind indexes, the external reference and the time zone used to stay."""
    queries = [person.values[k] for k in ("email", "phone", "national_id", "full_name", "external_ref")]

    def found() -> list[str]:
        with workspace_context(world.a):
            qs = Debtor.objects.for_workspace(world.a)
            return [q for q in queries if qs.filter(exact_search_filter(world.a, q), pk=person.debtor.pk).exists()]

    assert found() == queries
    _erase(person, world.alice, django_capture_on_commit_callbacks)
    assert found() == []
    debtor = _reload(person)
    assert (debtor.external_ref, debtor.timezone) == ("", "")


def test_miss_the_debt_page_shows_an_erased_person_after_a_shred(world, private_storage):
    """The debt page used to fail with SubjectKeyShredded (a 500) once the key was gone."""
    with workspace_context(world.a):
        debt = make_debt(world.a)
    keyring.subject_key_shred(world.a.pk, "debtor", str(debt.debtor_id))
    c = login(world.alice)
    page = c.get(f"/w/acme/debts/{debt.pk}/")
    assert page.status_code == 200
    reveal = c.post(f"/w/acme/debts/{debt.pk}/reveal/", HTTP_HX_REQUEST="true")
    assert reveal.status_code == 200 and "[erased]" in reveal.content.decode()
    with workspace_context(world.a):
        debtor = Debtor.objects.for_workspace(world.a).get(pk=debt.debtor_id)
        assert isinstance(debtor.email, Erased) and not debtor.email  # reads as missing: nothing is sent to it
        debtor.save()  # the stored ciphertext is written back, not "[erased]"


def test_the_debt_page_after_an_erasure(world, person, django_capture_on_commit_callbacks):
    _erase(person, world.alice, django_capture_on_commit_callbacks)
    c = login(world.alice)
    page = c.get(f"/w/acme/debts/{person.debts[0].pk}/")
    assert page.status_code == 200 and "erased" in page.content.decode()
    reveal = c.post(f"/w/acme/debts/{person.debts[0].pk}/reveal/", HTTP_HX_REQUEST="true")
    assert "Erased person" in reveal.content.decode()


def test_miss_documents_are_encrypted_with_the_persons_key(world, private_storage):
    """Documents used to be stored as uploaded, and survived the shred."""
    with workspace_context(world.a):
        debt = make_debt(world.a)
        doc = records.document_upload(debt=debt, upload=BytesIO(PNG), file_name="id.png")
        legacy = records.document_upload(debt=debt, upload=BytesIO(PNG), file_name="old.png")
    assert files_containing(private_storage, PNG) == []
    c, key = login(world.alice), api(world.key_a)
    page_url = f"/w/acme/debts/{debt.pk}/documents/{doc.pk}/"
    api_url = f"/api/v1/debts/{debt.pk}/documents/{doc.pk}/download/"
    assert b"".join(c.get(page_url).streaming_content) == PNG
    assert b"".join(key.get(api_url).streaming_content) == PNG
    # A document stored before documents were encrypted (no marker) still downloads.
    default_storage.delete(legacy.storage_name)
    default_storage.save(legacy.storage_name, ContentFile(PNG))
    assert b"".join(c.get(f"/w/acme/debts/{debt.pk}/documents/{legacy.pk}/").streaming_content) == PNG
    keyring.subject_key_shred(world.a.pk, "debtor", str(debt.debtor_id))
    assert c.get(page_url).status_code == 404  # unreadable once the key is shredded
    assert key.get(api_url).status_code == 404
    with workspace_context(world.a), pytest.raises(Http404):
        records.document_content(Document.objects.get(pk=doc.pk))


def test_miss_free_text_fields_are_declared_and_handled_by_the_plan(world, person, django_capture_on_commit_callbacks):
    """Dispute resolution, ledger memo, consent IP and user agent were not covered."""
    declared = {
        (Dispute, "resolution"): Erasure.PSEUDONYMISE,
        (LedgerEntry, "memo"): Erasure.KEEP_UNTIL,
        (ConsentRecord, "ip"): Erasure.KEEP_UNTIL,
        (ConsentRecord, "user_agent"): Erasure.KEEP_UNTIL,
    }
    for (model, name), disposition in declared.items():
        decl = declaration_for(model)
        assert decl is not None and decl.fields[name].erasure == disposition
    with workspace_context(world.a):
        # An agent names the person in a memo: the ledger is append-only, so it is kept, and said so.
        adjustment_post(debt=person.debts[0], amount_minor=-500, memo=f"Waived for {person.values['full_name']}")
    plan = _erase(person, world.alice, django_capture_on_commit_callbacks)
    actions = {(e["model"], e["field"]): e for e in plan.plan["entries"]}
    assert actions[("debtors.dispute", "resolution")]["action"] == "pseudonymise"
    for key in (
        ("debtors.ledgerentry", "memo"),
        ("consent.consentrecord", "ip"),
        ("consent.consentrecord", "user_agent"),
    ):
        assert actions[key]["action"] == "keep" and actions[key]["until"] and "append-only" in actions[key]["law"]
    assert "Ledger entry, memo" in plan.statement["text"] and "Consent record, ip" in plan.statement["text"]
    with workspace_context(world.a):
        assert Dispute.objects.get(debtor_id=person.debtor.pk).resolution.startswith("[erased]")


def test_redaction_cuts_the_persons_values_out_of_free_text():
    terms = ["Zephyrine Quackenbush", "Zephyrine", "Quackenbush", "zq@example.org"]
    assert redact("Call ZEPHYRINE at zq@example.org", terms) == "Call [erased] at [erased]"
    assert redact("Nothing personal", terms) == "Nothing personal"


def _cached_key(world) -> tuple[Debtor, str]:
    with workspace_context(world.a):
        debtor = debtor_create(workspace=world.a, data=DebtorInput(full_name="Cached Person", email="c@example.org"))
        key_id = keyring.subject_key_for(world.a.pk, "debtor", str(debtor.pk))[0]
        assert keyring.subject_key_by_id(world.a.pk, key_id)  # this process has it cached
    return debtor, key_id


def _shred_elsewhere(world, debtor: Debtor, monkeypatch, capture) -> None:
    """Shred as another process would: its caches are cleared and the generation is
    published, but this process's caches and its last look at the generation stay."""
    seen = dict(keyring._generation_seen)
    with monkeypatch.context() as m:
        m.setattr(keyring, "clear_cache", lambda: None)
        with capture(execute=True), workspace_context(world.a):
            assert keyring.subject_key_shred(world.a.pk, "debtor", str(debtor.pk))
    keyring._generation_seen.update(seen)


def test_miss_other_processes_stop_using_a_shredded_key(world, monkeypatch, django_capture_on_commit_callbacks):
    """Another process used to keep using a shredded key from its cache for up to 5
    minutes; now for at most KEYRING_SHRED_CHECK_SECONDS (1 s) after the shred."""
    clock = [1000.0]
    monkeypatch.setattr(keyring, "_clock", lambda: clock[0])
    debtor, key_id = _cached_key(world)
    with workspace_context(world.a):
        keyring._generation_seen.clear()
        keyring.subject_key_by_id(world.a.pk, key_id)  # looked at the generation at t=1000
    _shred_elsewhere(world, debtor, monkeypatch, django_capture_on_commit_callbacks)
    with workspace_context(world.a):
        clock[0] = 1000.5  # within the bound: the last look still stands
        assert keyring.subject_key_by_id(world.a.pk, key_id)
        clock[0] = 1001.5  # past it: the new generation is read, the cached key dropped
        with pytest.raises(keyring.SubjectKeyShredded):
            keyring.subject_key_by_id(world.a.pk, key_id)
        assert isinstance(Debtor.objects.for_workspace(world.a).get(pk=debtor.pk).full_name, Erased)


def test_with_no_check_interval_a_shred_is_seen_at_once(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.KEYRING_SHRED_CHECK_SECONDS = 0
    debtor, key_id = _cached_key(world)
    _shred_elsewhere(world, debtor, monkeypatch, django_capture_on_commit_callbacks)
    with workspace_context(world.a), pytest.raises(keyring.SubjectKeyShredded):
        keyring.subject_key_by_id(world.a.pk, key_id)


def test_a_lost_generation_is_rebuilt_from_the_database(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """If the shared cache loses the generation after a shred (eviction, restart),
    it is rebuilt from the database as the same value: a stale key cannot come back."""
    settings.KEYRING_SHRED_CHECK_SECONDS = 0
    debtor, key_id = _cached_key(world)
    _shred_elsewhere(world, debtor, monkeypatch, django_capture_on_commit_callbacks)
    with workspace_context(world.a):
        published = keyring.shred_generation(world.a.pk)
        cache.clear()
        assert keyring.shred_generation(world.a.pk) == published
        with pytest.raises(keyring.SubjectKeyShredded):
            keyring.subject_key_by_id(world.a.pk, key_id)


def test_decisions_read_only(world, person):
    before = table_rows()
    with workspace_context(world.a):
        decisions = erasure_decide(workspace=world.a, debtor=person.debtor)
    assert decisions.has_work and table_rows() == before
