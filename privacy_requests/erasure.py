"""Erasure: a plan first (dry run), approval, then an idempotent, resumable
execution and a statement.

- ``erasure_preview(*, workspace, debtor) -> dict``: the plan, stored nowhere (a
  dry run from the command line).
- ``erasure_plan(*, workspace, debtor, request=None, actor=None, reason="", retention_run="",
  as_of=None) -> ErasurePlan``: the plan stored as a draft (``ErasurePlan.plan``: per model
  and field, what is done, to how many rows, why, under which law, until when), audited.
  A retention purge's plan names its run and counts periods from the run's clock.
- ``erasure_approve(*, plan, actor, operator=False, reason="") -> ErasurePlan``: by a
  member who may handle privacy requests (managers, admins, owners) or the workspace's
  privacy contact; or by an operator on the command line, with the reason (a court
  order, a regulator's instruction).
- ``erasure_queue(*, plan)``: run ``erasure_execute`` on a worker once the transaction
  commits (``erasure_tasks.erasure_run``).
- ``erasure_execute(*, plan, on_step=None) -> ErasurePlan``: does only what is left.

**What is decided** is in ``erasure_rules`` (from the registry). **Execution** runs the
``STEPS`` in order, each in its own transaction under a row lock on the plan, and
records each finished step in ``plan.progress``; a step already recorded is skipped,
and every step writes only what is not yet as erasure wants, so a run that died is
continued by running again and a finished plan changes nothing. The decisions are
made again when a run starts (a hold placed after approval is still honoured); the
statement describes what the first run found (``progress["decided"]``).

The person's data key is shredded near the end (``shred``): everything of theirs
still encrypted under it, backups included, becomes unreadable; what is kept was
moved under their retention key before. The request's statement goes to the
requester's address, captured (encrypted under the workspace's key) before the
person's email is erased and forgotten once sent.

**A retention purge** (``privacy_requests.retention_people``: the person's collection
records are past their period) runs the same plan and steps without a request: nobody
is sent a statement and the client gets no email (nothing was asked; the purge's
receipt is the record), but each debt's timeline says the person's data was erased at
the end of its retention period.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, User, Workspace
from accounts.roles import can
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from communications.log import communications_erase
from debtors.models import Debt, Debtor, Dispute, Document, Note
from debtors.services.debtors import debtor_contacts_erase, debtor_erase, debtor_restriction_set
from debtors.services.records import records_erase
from debtors.services.status import debt_event
from kernel.crypto import keyring
from kernel.crypto.blobs import blob_decrypt, blob_encrypt
from kernel.crypto.fields import FieldErasure, field_erase
from kernel.tenancy import workspace_context
from payments.models import LinkStatus, PaymentLink
from payments.services import payment_link_revoke
from privacy_requests import erasure_tasks
from privacy_requests.erasure_rules import KEEP, SUBJECT_TYPE, Decisions, erasure_decide
from privacy_requests.erasure_statement import statement_build
from privacy_requests.models import (
    CLOSED_STATUSES,
    ErasurePlan,
    FileKind,
    PlanStatus,
    PrivacyContact,
    PrivacyRequest,
    RequestFile,
    RequestStatus,
    RequestType,
)
from privacy_requests.services import privacy_request_note, privacy_request_transition

logger = logging.getLogger(__name__)

STEPS = ("decide", "records", "identity", "links", "exports", "shred", "request", "statement", "client")
AUDIT_CHAIN_NOTE = (
    "the audit trail is untouched, so its chain still verifies: it keeps who did what and when, including IP address and browser"
    " (security logs, at least 1 year: GDPR Art. 5(2), DPDP Rules r.8(3))"
)


# --- The plan --------------------------------------------------------------------------------


def plan_summary(decisions: Decisions) -> dict[str, Any]:
    """The plan as stored and shown: per model, field and decision, how many rows and
    how many of them still change; the holds, the books, the key. No value of the
    person's is in it."""
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for d in decisions.fields:
        key = (d.label, d.field, d.action, d.how, d.reason, d.law, d.until)
        group = groups.setdefault(
            key,
            {
                "model": d.label,
                "record": d.record,
                "field": d.field,
                "label": d.field_label,
                "category": str(d.category),
                "action": d.action,
                "how": d.how,
                "reason": d.reason,
                "law": d.law,
                "until": d.until,
                "rows": 0,
                "to_change": 0,
                "with_value": 0,
                "routine": d.routine,
            },
        )
        group["rows"] += 1
        group["to_change"] += int(d.work)
        group["with_value"] += int(d.has_value)
    entries = sorted(groups.values(), key=lambda g: (g["model"], g["field"], g["action"], g["until"]))
    return {
        "version": 1,
        "debtor": str(decisions.debtor.pk),
        "pseudonym": decisions.pseudonym,
        "holds": [{**asdict(h), "reason": h.reason} for h in decisions.holds],
        "entries": entries,
        "rows_deleted": {label: len(pks) for label, pks in sorted(decisions.row_deletes.items()) if pks},
        "books": decisions.books,
        "key": {
            "shred": decisions.person_key_live,
            "already_shredded": bool(decisions.person_key) and not decisions.person_key_live,
            "retention_key": "kept: it seals what is kept"
            if decisions.keeps_sealed_values
            else ("shredded too: nothing encrypted is kept" if decisions.retained_key_live else "none"),
        },
        "restrict_processing": decisions.identity_kept,
        "audit_chain": AUDIT_CHAIN_NOTE,
        "unhandled": decisions.unhandled,
        "counts": {
            "delete": sum(e["rows"] for e in entries if e["action"] == "delete"),
            "pseudonymise": sum(e["rows"] for e in entries if e["action"] == "pseudonymise"),
            "keep": sum(e["rows"] for e in entries if e["action"] == KEEP),
            "to_change": sum(e["to_change"] for e in entries),
        },
        "has_work": decisions.has_work,
    }


def _other_work(workspace: Workspace, debtor: Debtor) -> dict[str, int]:
    """Work outside the registered fields: active payment links, undeleted copies."""
    return {
        "active_links": PaymentLink.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk, status=LinkStatus.ACTIVE)
        .count(),
        "export_files": _export_files(workspace, debtor).count(),
    }


def _export_files(workspace: Workspace, debtor: Debtor) -> Any:
    return RequestFile.objects.for_workspace(workspace).filter(
        request__debtor_id=debtor.pk, kind=FileKind.EXPORT, deleted_at__isnull=True
    )


def erasure_preview(*, workspace: Workspace, debtor: Debtor, now: datetime | None = None) -> dict[str, Any]:
    """The plan for erasing ``debtor`` now (or as of ``now``), stored nowhere
    (``has_work`` False: a finished erasure, nothing left to do)."""
    if debtor.workspace_id != workspace.pk:
        raise ValidationError({"debtor": "No such debtor."})
    summary = plan_summary(erasure_decide(workspace=workspace, debtor=debtor, now=now))
    other = _other_work(workspace, debtor)
    summary.update(other)
    summary["has_work"] = summary["has_work"] or any(other.values())
    return summary


def erasure_plan(
    *,
    workspace: Workspace,
    debtor: Debtor | None,
    request: PrivacyRequest | None = None,
    actor: Actor = None,
    reason: str = "",
    retention_run: str = "",
    as_of: datetime | None = None,
) -> ErasurePlan:
    """Store the plan (a dry run: nothing of the person's is changed) as a draft and
    audit it. A verified erasure request moves to in progress. ``retention_run``: the
    retention purge run the plan belongs to (no request), whose clock ``as_of`` the
    periods are counted from."""
    if debtor is None or debtor.workspace_id != workspace.pk:
        raise ValidationError({"debtor": "The request is not matched to a debtor of this workspace."})
    if request is not None:
        if request.workspace_id != workspace.pk or request.debtor_id != debtor.pk:
            raise ValidationError({"request": "The request is about someone else."})
        if request.type != RequestType.ERASURE:
            raise ValidationError({"request": "Only an erasure request is answered with an erasure."})
        if request.status in CLOSED_STATUSES:
            raise ValidationError({"request": "The request is closed."})
    if retention_run and request is not None:
        raise ValidationError({"request": "A retention purge answers no request."})
    summary = erasure_preview(workspace=workspace, debtor=debtor, now=as_of)
    with transaction.atomic():
        if request is not None:
            request = PrivacyRequest.objects.for_workspace(workspace).select_for_update().get(pk=request.pk)
        plan = ErasurePlan(
            workspace=workspace,
            request=request,
            debtor=debtor,
            plan=summary,
            reason=reason.strip()[:300],
            created_by=actor_user(actor),
            retention_run=retention_run,
            as_of=as_of,
        )
        plan.save(force_insert=True)
        audit_record(
            action=actions.ERASURE_PLANNED,
            workspace=workspace,
            obj=plan,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={
                "debtor": str(debtor.pk),
                **{k: v for k, v in summary["counts"].items()},
                "holds": len(summary["holds"]),
                "unhandled": len(summary["unhandled"]),
                **({"retention_run": retention_run} if retention_run else {}),
            },
        )
        if request is not None:
            if request.status == RequestStatus.VERIFIED:
                privacy_request_transition(
                    request=request, to=RequestStatus.IN_PROGRESS, actor=actor, reason="Erasure planned"
                )
            privacy_request_note(
                request=request,
                kind="erasure_planned",
                actor=actor,
                reason=f"Erasure planned: {summary['counts']['to_change']} values to change, "
                f"{summary['counts']['keep']} kept, {len(summary['holds'])} holds",
            )
    return plan


def _may_approve(workspace: Workspace, actor: Actor) -> bool:
    if not isinstance(actor, User):
        return False
    membership = Membership.objects.for_workspace(workspace).filter(user=actor).first()
    if membership is None or membership.client_id is not None:
        return False
    if can(membership, "privacy.manage"):
        return True
    contact = PrivacyContact.objects.for_workspace(workspace).first()
    return contact is not None and contact.contact_user_id == actor.pk


def erasure_approve(*, plan: ErasurePlan, actor: Actor, operator: bool = False, reason: str = "") -> ErasurePlan:
    """Approve a draft plan: a member who may handle privacy requests (managers,
    admins, owners) or the workspace's privacy contact; or an operator acting on a
    court order or a regulator's instruction (``operator=True``, no user, ``reason``
    required). A plan with a field no app can erase, or for a request whose requester
    is not verified, is refused."""
    workspace = Workspace.objects.get(pk=plan.workspace_id)
    if operator:
        if actor is not None:
            raise ValueError("an operator approval has no user actor")
        if not reason.strip():
            raise ValidationError({"reason": "Say on what authority (a court order, a regulator's instruction)."})
    elif not _may_approve(workspace, actor):
        raise PermissionDenied("Only a manager, an admin, an owner or the privacy contact may approve an erasure.")
    with transaction.atomic():
        plan = ErasurePlan.objects.for_workspace(workspace).select_for_update().get(pk=plan.pk)
        if plan.status != PlanStatus.DRAFT:
            raise ValidationError({"plan": f"Only a draft plan can be approved; this one is {plan.status}."})
        if plan.plan.get("unhandled"):
            raise ValidationError(
                {"plan": "No app erases " + ", ".join(plan.plan["unhandled"]) + ": erasure cannot run."}
            )
        request = plan.request
        if request is not None and request.status not in (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS):
            raise ValidationError({"plan": "The request is not verified (or is closed): it cannot be fulfilled."})
        plan.status = PlanStatus.APPROVED
        plan.approved_by = actor_user(actor)
        plan.approved_at = timezone.now()
        if operator:
            plan.reason = reason.strip()[:300]
        plan.save(update_fields=["status", "approved_by", "approved_at", "reason"])
        audit_record(
            action=actions.ERASURE_APPROVED,
            workspace=workspace,
            obj=plan,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"operator": operator, "reason": plan.reason[:200], "debtor": str(plan.debtor_id)},
        )
        if request is not None:
            privacy_request_note(
                request=request,
                kind="erasure_approved",
                actor=actor,
                actor_label="operator" if operator else "",
                reason="Erasure approved" + (f" by an operator: {plan.reason}" if operator else ""),
            )
    return plan


def erasure_queue(*, plan: ErasurePlan) -> None:
    """Run the approved plan on a worker once this transaction commits."""
    if plan.status not in (PlanStatus.APPROVED, PlanStatus.RUNNING):
        raise ValidationError({"plan": "Approve the plan before running it."})
    workspace_id, plan_id = plan.workspace_id, str(plan.pk)
    transaction.on_commit(lambda: erasure_tasks.erasure_run.delay(workspace_id, plan_id))


# --- Execution -------------------------------------------------------------------------------


def erasure_execute_by_id(*, workspace: Workspace, plan_id: str) -> ErasurePlan:
    """``erasure_execute`` for a task, which has ids."""
    with workspace_context(workspace):
        plan = ErasurePlan.objects.for_workspace(workspace).get(pk=plan_id)
    return erasure_execute(plan=plan)


def erasure_execute(*, plan: ErasurePlan, on_step: Callable[[str], None] | None = None) -> ErasurePlan:
    """Carry out an approved plan, or what is left of it (module docstring); a plan
    already done is returned as it is. ``on_step(name)`` after each step (a progress
    bar)."""
    workspace = Workspace.objects.get(pk=plan.workspace_id)
    with workspace_context(workspace):
        plan = ErasurePlan.objects.for_workspace(workspace).get(pk=plan.pk)
        if plan.status == PlanStatus.DONE:
            return plan
        if plan.status not in (PlanStatus.APPROVED, PlanStatus.RUNNING):
            raise ValidationError({"plan": "Approve the plan before running it."})
        # The first run claims the plan; a later one (after a crash) continues it.
        ErasurePlan.objects.for_workspace(workspace).filter(pk=plan.pk, status=PlanStatus.APPROVED).update(
            status=PlanStatus.RUNNING
        )
    run = _Run(workspace, plan)
    for name in STEPS:
        run.step(name)
        if on_step is not None:
            on_step(name)
    return run.finish()


class _Run:
    """One run of one plan: the steps, each in its own transaction."""

    def __init__(self, workspace: Workspace, plan: ErasurePlan):
        self.workspace = workspace
        self.plan_id = plan.pk
        self.debtor_id = plan.debtor_id
        self.as_of = plan.as_of
        self._decisions: Decisions | None = None

    @property
    def decisions(self) -> Decisions:
        if self._decisions is None:
            debtor = Debtor.objects.for_workspace(self.workspace).get(pk=self.debtor_id)
            self._decisions = erasure_decide(workspace=self.workspace, debtor=debtor, now=self.as_of)
        return self._decisions

    def _reason(self, plan: ErasurePlan) -> str:
        if plan.retention_run:
            return f"retention purge {plan.retention_run}"
        return f"erasure {plan.request.reference if plan.request else plan.pk}"

    def step(self, name: str) -> None:
        with workspace_context(self.workspace):
            plan = ErasurePlan.objects.for_workspace(self.workspace).select_for_update().get(pk=self.plan_id)
            steps = dict(plan.progress.get("steps", {}))
            if name in steps:
                return
            done: dict[str, Any] = getattr(self, f"_{name}")(plan) or {}
            steps[name] = {"at": timezone.now().isoformat(), **done}
            plan.progress = {**plan.progress, "steps": steps}
            plan.save(update_fields=["progress", "statement"])

    def finish(self) -> ErasurePlan:
        with workspace_context(self.workspace):
            plan = ErasurePlan.objects.for_workspace(self.workspace).select_for_update().get(pk=self.plan_id)
            if plan.status == PlanStatus.DONE:
                return plan
            steps = plan.progress.get("steps", {})
            plan.status = PlanStatus.DONE
            plan.executed_at = timezone.now()
            plan.save(update_fields=["status", "executed_at"])
            counts = plan.progress.get("decided", {}).get("counts", {})
            audit_record(
                action=actions.ERASURE_EXECUTED,
                workspace=self.workspace,
                obj=plan,
                metadata={
                    "debtor": str(plan.debtor_id),
                    **{k: int(v) for k, v in counts.items()},
                    "rows_deleted": sum(
                        int(v) for v in plan.progress.get("decided", {}).get("rows_deleted", {}).values()
                    ),
                    "key_shredded": bool(steps.get("shred", {}).get("shredded")),
                    "outcome": str(plan.statement.get("outcome", "")),
                    "statement_sent": bool(steps.get("statement", {}).get("sent")),
                    "clients_told": int(steps.get("client", {}).get("clients", 0)),
                    **({"retention_run": plan.retention_run} if plan.retention_run else {}),
                },
            )
        return plan

    # --- the steps (each returns what it records in progress) ---

    def _decide(self, plan: ErasurePlan) -> dict[str, Any]:
        decisions = self.decisions
        if decisions.unhandled:
            raise ValidationError({"plan": "No app erases " + ", ".join(decisions.unhandled) + ": erasure cannot run."})
        summary = plan_summary(decisions)
        address = _notify_address(plan.request, decisions.debtor)
        plan.progress = {
            **plan.progress,
            "decided": summary,
            "notify": _seal(self.workspace, plan, address) if address else "",
        }
        return {"to_change": summary["counts"]["to_change"]}

    def _records(self, plan: ErasurePlan) -> dict[str, Any]:
        decisions, reason = self.decisions, self._reason(plan)
        ws_id, debtor = self.workspace.pk, decisions.debtor
        counts: dict[str, Any] = {}
        deleted, ops = decisions.ops_for("debtors.debtorcontact")
        if deleted or ops:
            counts["debtors.debtorcontact"] = debtor_contacts_erase(
                debtor=debtor, delete=deleted, fields=ops, reason=reason
            )
        for model in (Note, Document, Dispute):
            deleted, ops = decisions.ops_for(model._meta.label_lower)
            if deleted or ops:
                counts[model._meta.label_lower] = records_erase(
                    workspace_id=ws_id, debtor_id=debtor.pk, model=model, delete=deleted, fields=ops, reason=reason
                )
        _, ops = decisions.ops_for("communications.communication")
        if ops:
            counts["communications.communication"] = communications_erase(
                workspace_id=ws_id, debtor_id=debtor.pk, fields=ops, reason=reason
            )
        _, ops = decisions.ops_for("privacy_requests.privacyrequest")
        if ops:
            counts["privacy_requests.privacyrequest"] = _privacy_requests_erase(self.workspace, debtor, ops)
        return {"counts": counts}

    def _identity(self, plan: ErasurePlan) -> dict[str, Any]:
        decisions = self.decisions
        _, ops = decisions.ops_for("debtors.debtor")
        changed = debtor_erase(
            debtor=decisions.debtor, fields=ops.get(str(self.debtor_id), {}), reason=self._reason(plan)
        )
        restricted = False
        if decisions.identity_kept:
            # What a hold keeps may be used for that hold only (GDPR Art. 17(3)(e), 18).
            debtor_restriction_set(debtor=decisions.debtor, restricted=True, reason="identity kept by a hold; erasure")
            restricted = True
        return {"fields": changed, "restricted": restricted}

    def _links(self, plan: ErasurePlan) -> dict[str, Any]:
        links = PaymentLink.objects.for_workspace(self.workspace).filter(
            debtor_id=self.debtor_id, status=LinkStatus.ACTIVE
        )
        revoked = 0
        for link in links:
            payment_link_revoke(link=link)
            revoked += 1
        return {"revoked": revoked}

    def _exports(self, plan: ErasurePlan) -> dict[str, Any]:
        """Copies of the person's data made for an access request are erased too."""
        now, deleted = timezone.now(), 0
        debtor = Debtor.objects.for_workspace(self.workspace).get(pk=self.debtor_id)
        for file in _export_files(self.workspace, debtor).select_related("request"):
            if file.storage_name:
                default_storage.delete(file.storage_name)
            RequestFile.objects.for_workspace(self.workspace).filter(pk=file.pk).update(
                deleted_at=now, download_token_hash="", download_token_expires_at=None
            )
            audit_record(
                action=actions.PRIVACY_REQUEST_EXPORT_DELETED,
                workspace=self.workspace,
                obj=file,
                metadata={"request": str(file.request_id), "reason": "erasure"},
            )
            privacy_request_note(
                request=file.request, kind="export_deleted", actor_label="system", reason="Copy deleted (erasure)"
            )
            deleted += 1
        return {"deleted": deleted}

    def _shred(self, plan: ErasurePlan) -> dict[str, Any]:
        ws_id, subject_id = self.workspace.pk, str(self.debtor_id)
        shredded = keyring.subject_key_shred(ws_id, SUBJECT_TYPE, subject_id)
        retained_shredded = False
        if not self.decisions.keeps_sealed_values:
            retained_shredded = keyring.subject_key_shred(
                ws_id, keyring.retained_subject_type(SUBJECT_TYPE), subject_id
            )
        return {"shredded": shredded, "retention_key_shredded": retained_shredded}

    def _request(self, plan: ErasurePlan) -> dict[str, Any]:
        statement = statement_build(plan=plan, workspace=self.workspace)
        plan.statement = statement
        request = plan.request
        if request is None:
            return {"closed": False}
        request = PrivacyRequest.objects.for_workspace(self.workspace).get(pk=request.pk)
        if request.status in CLOSED_STATUSES:
            return {"closed": False}
        to = RequestStatus.FULFILLED if statement["outcome"] == "fulfilled" else RequestStatus.PARTLY_FULFILLED
        privacy_request_transition(
            request=request, to=to, actor_label="erasure", reason=statement["summary"], notify=False
        )
        return {"closed": True, "status": str(to)}

    def _statement(self, plan: ErasurePlan) -> dict[str, Any]:
        """Send the statement to the requester (once the transaction commits), then
        forget the address."""
        sealed = plan.progress.get("notify", "")
        address = _unseal(self.workspace, plan, sealed) if sealed else ""
        plan.progress = {**plan.progress, "notify": ""}
        if not address:
            return {"sent": False}
        subject = str(plan.statement.get("subject", "Your erasure request"))
        body = str(plan.statement.get("text", ""))
        transaction.on_commit(
            partial(send_mail, subject=subject, message=body, from_email=None, recipient_list=[address])
        )
        if plan.request is not None:
            privacy_request_note(
                request=plan.request, kind="statement_sent", actor_label="system", reason="Erasure statement sent"
            )
        return {"sent": True}

    def _client(self, plan: ErasurePlan) -> dict[str, Any]:
        """Tell each client that placed a debt of the person: an email to its members and
        a line on each debt's timeline. A retention purge only writes the timeline: the
        data reached the end of its period, which the client agreed to (no one asked)."""
        debts = list(
            Debt.objects.for_workspace(self.workspace)
            .filter(debtor_id=self.debtor_id)
            .select_related("client")
            .order_by("reference")
        )
        if plan.retention_run:
            for debt in debts:
                debt_event(
                    debt,
                    "privacy.erasure",
                    "Debtor's personal data erased at the end of its retention period "
                    f"(retention purge {plan.retention_run})",
                    obj=plan,
                )
            return {"clients": 0, "timeline": len(debts)}
        by_client: dict[Any, list[Debt]] = {}
        for debt in debts:
            by_client.setdefault(debt.client_id, []).append(debt)
        reference = plan.request.reference if plan.request else ""
        told = 0
        for client_id, client_debts in by_client.items():
            emails = sorted(
                {
                    m.user.email
                    for m in Membership.objects.for_workspace(self.workspace)
                    .filter(client_id=client_id)
                    .select_related("user")
                    if m.user.email
                }
            )
            refs = ", ".join(d.reference for d in client_debts)
            if emails:
                subject, body = _client_message(self.workspace, plan, refs, reference)
                transaction.on_commit(
                    partial(send_mail, subject=subject, message=body, from_email=None, recipient_list=emails)
                )
            for debt in client_debts:
                debt_event(
                    debt,
                    "privacy.erasure",
                    "Debtor's personal data erased"
                    + (f" (request {reference})" if reference else "")
                    + f"; client told ({len(emails)} by email)",
                    obj=plan,
                )
            audit_record(
                action=actions.ERASURE_CLIENT_TOLD,
                workspace=self.workspace,
                obj=plan,
                metadata={"client": str(client_id), "emails": len(emails), "debts": len(client_debts)},
            )
            told += 1
        return {"clients": told}


def _privacy_requests_erase(
    workspace: Workspace, debtor: Debtor, ops: dict[str, dict[str, FieldErasure]]
) -> dict[str, int]:
    """Fields of the person's requests whose retention ended (the request records
    are otherwise kept: they prove the rights were honoured)."""
    changed = 0
    for request in PrivacyRequest.objects.for_workspace(workspace).filter(pk__in=list(ops), debtor_id=debtor.pk):
        names: list[str] = []
        for name, erasure in ops[str(request.pk)].items():
            names += field_erase(request, name, erasure)
        if names:
            request.save(update_fields=sorted(set(names)))
            changed += 1
    return {"deleted": 0, "changed": changed}


def _notify_address(request: PrivacyRequest | None, debtor: Debtor) -> str:
    """Where the statement goes: the requester's email on the request, else the email
    on file (read now, before it is erased). None without a request: an operator's
    erasure prints its statement instead."""
    if request is None:
        return ""
    for candidate in (request.requester_contact or "", debtor.email or ""):
        candidate = candidate.strip()
        try:
            validate_email(candidate)
        except ValidationError:
            continue
        return candidate
    return ""


def _purpose(plan: ErasurePlan) -> str:
    return f"privacy_requests.erasureplan|{plan.pk}|notify"


def _seal(workspace: Workspace, plan: ErasurePlan, address: str) -> str:
    blob = blob_encrypt(
        address.encode(),
        workspace_id=workspace.pk,
        subject_type="workspace",
        subject_id=str(workspace.pk),
        purpose=_purpose(plan),
    )
    return base64.b64encode(blob).decode()


def _unseal(workspace: Workspace, plan: ErasurePlan, sealed: str) -> str:
    return blob_decrypt(base64.b64decode(sealed), workspace_id=workspace.pk, purpose=_purpose(plan)).decode()


def _client_message(workspace: Workspace, plan: ErasurePlan, refs: str, reference: str) -> tuple[str, str]:
    pseudonym = plan.progress.get("decided", {}).get("pseudonym", "")
    why = f"at their request ({reference})" if reference else "on an operator's instruction"
    subject = f"{workspace.name}: a debtor's personal data was erased (debts {refs})"
    body = (
        f"The personal data of the debtor of your debts {refs} was erased {why} on "
        f"{timezone.localdate():%Y-%m-%d}.\n\n"
        f"They now appear as “{pseudonym}”. The debts, their amounts, balances and ledger are unchanged "
        "(erasure keeps the books).\n\n"
        "If you hold this person's data because of these debts, please consider whether you must erase it "
        "too (GDPR Art. 17(2) and 19).\n\n"
        f"— {workspace.name}\n"
    )
    return subject, body
