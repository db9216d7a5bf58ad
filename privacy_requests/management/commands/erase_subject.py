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
from privacy_requests.models import ErasurePlan, PlanStatus


class Command(BaseCommand):
    help = (
        "Erase one debtor's personal data on a court order or a regulator's instruction: print the plan "
        "(what is deleted, pseudonymised or kept, why and until when), then, without --dry-run, approve it as "
        "an operator action (audited with --reason) and execute it. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The workspace")
        parser.add_argument("--debtor", required=True, help="The debtor's id")
        parser.add_argument("--dry-run", action="store_true", help="Print the plan only; change nothing")
        parser.add_argument("--reason", default="", help="The authority: a court order, a regulator's instruction")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        reason = opts["reason"].strip()
        if not opts["dry_run"] and not reason:
            raise CommandError("--reason is required to erase (e.g. the court order or the regulator's instruction).")
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
            self.stdout.write(plan_text(preview))
            if not preview["has_work"]:
                done = (
                    f" (erased by plan {last.pk} on {last.executed_at:%Y-%m-%d})" if last and last.executed_at else ""
                )
                self.stdout.write(self.style.SUCCESS(f"Nothing left to erase{done}: nothing was changed."))
                return
            if preview["unhandled"]:
                raise CommandError("Erasure cannot run: no app erases " + ", ".join(preview["unhandled"]) + ".")
            if opts["dry_run"]:
                self.stdout.write("Dry run: nothing was changed.")
                return
            with workspace_context(workspace):
                plan = erasure_plan(workspace=workspace, debtor=debtor, reason=reason)
                plan = erasure_approve(plan=plan, actor=None, operator=True, reason=reason)
            with tqdm(total=len(STEPS), unit="step", disable=opts["no_progress"], file=self.stderr) as bar:

                def advanced(step: str) -> None:
                    bar.set_postfix_str(step)
                    bar.update()

                plan = erasure_execute(plan=plan, on_step=advanced)
        self.stdout.write(plan.statement.get("text", ""))
        self.stdout.write(self.style.SUCCESS(f"Erased: plan {plan.pk} ({plan.statement.get('outcome', '')})."))
