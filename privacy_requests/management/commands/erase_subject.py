from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Workspace
from debtors.models import Debtor
from kernel.context import request_info
from kernel.tenancy import workspace_context
from privacy_requests.erasure import STEPS, erasure_approve, erasure_execute, erasure_plan, erasure_preview
from privacy_requests.erasure_statement import plan_text
from privacy_requests.models import ErasurePlan, PlanStatus, PrivacyRequest, RequestStatus
from privacy_requests.selectors import open_erasure_requests

DEFAULT_REASON = "operator erasure (court order or regulator's instruction)"
# An erasure request the operator's erasure answers (and closes): one whose
# requester's identity is confirmed (erasure_approve refuses the others).
ANSWERABLE = frozenset({RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS})


class Command(BaseCommand):
    help = (
        "Erase one debtor's personal data on a court order or a regulator's instruction: print the plan "
        "(what is deleted, pseudonymised or kept, why and until when), then, without --dry-run, approve it as "
        "an operator action (audited with --reason, by default " + repr(DEFAULT_REASON) + ") and execute it. "
        "An open, verified erasure request of the debtor is answered (and closed) by it. "
        "Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The workspace")
        parser.add_argument("--debtor", required=True, help="The debtor's id")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only; change nothing")
        parser.add_argument(
            "--reason",
            default="",
            help=f"The authority: a court order, a regulator's instruction (default: {DEFAULT_REASON!r})",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        reason = opts["reason"].strip() or DEFAULT_REASON
        workspace = Workspace.objects.filter(slug=opts["slug"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        with request_info(source="cli"):
            with workspace_context(workspace):
                try:
                    debtor = Debtor.objects.for_workspace(workspace).filter(pk=opts["debtor"]).first()
                except ValidationError:
                    debtor = None
                if debtor is None:
                    raise CommandError(f"No debtor {opts['debtor']!r} in workspace {workspace.slug}.")
                preview = erasure_preview(workspace=workspace, debtor=debtor)
                last = (
                    ErasurePlan.objects.for_workspace(workspace)
                    .filter(debtor=debtor, status=PlanStatus.DONE)
                    .order_by("-executed_at")
                    .first()
                )
                requests = open_erasure_requests(workspace=workspace, debtor_id=debtor.pk)
            answered = next((r for r in requests if r.status in ANSWERABLE), None)
            self.stdout.write(plan_text(preview))
            if not preview["has_work"]:
                done = (
                    f" (erased by plan {last.pk} on {last.executed_at:%Y-%m-%d})" if last and last.executed_at else ""
                )
                self.stdout.write(self.style.SUCCESS(f"Nothing left to erase{done}: nothing was changed."))
                self._still_open(requests, None)
                return
            if preview["unhandled"]:
                raise CommandError("Erasure cannot run: no app erases " + ", ".join(preview["unhandled"]) + ".")
            self.stdout.write(f"Reason: {reason}")
            if answered is not None:
                self.stdout.write(f"Answers erasure request {answered.reference} (closed when the erasure is done).")
            if opts["dry_run"]:
                self._still_open(requests, answered)
                self.stdout.write("Dry run: nothing was changed.")
                return
            with workspace_context(workspace):
                plan = erasure_plan(workspace=workspace, debtor=debtor, request=answered, reason=reason)
                plan = erasure_approve(plan=plan, actor=None, operator=True, reason=reason)
            with tqdm(total=len(STEPS), unit="step", disable=opts["no_progress"], file=self.stderr) as bar:

                def advanced(step: str) -> None:
                    bar.set_postfix_str(step)
                    bar.update()

                plan = erasure_execute(plan=plan, on_step=advanced)
        self.stdout.write(plan.statement.get("text", ""))
        self.stdout.write(self.style.SUCCESS(f"Erased: plan {plan.pk} ({plan.statement.get('outcome', '')})."))
        self._still_open(requests, answered)

    def _still_open(self, requests: list[PrivacyRequest], answered: PrivacyRequest | None) -> None:
        """Say which of the debtor's erasure requests this run did not close."""
        for request in requests:
            if answered is None or request.pk != answered.pk:
                self.stdout.write(
                    self.style.WARNING(
                        f"Erasure request {request.reference} ({request.get_status_display().lower()}) is still "
                        "open: answer it on the privacy desk."
                    )
                )
