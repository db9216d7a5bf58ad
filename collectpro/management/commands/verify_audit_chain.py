from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from audit.models import GLOBAL_CHAIN, AuditChain, chain_key
from audit.selectors import verify_chain
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope


class Command(BaseCommand):
    help = (
        "Verify the hash-chained audit trail. Exits 0 when intact; non-zero naming the first bad "
        "event when a row was edited, inserted or deleted. Without SLUG, checks every workspace and the global chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["slug"]:
            workspaces = list(Workspace.objects.filter(slug=opts["slug"]))
            if not workspaces:
                raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        else:
            workspaces = list(Workspace.objects.order_by("pk"))
        problems = []
        for ws in workspaces:
            with workspace_context(ws):
                chain = AuditChain.objects.filter(key=chain_key(ws.pk)).first()
                if chain is None:
                    continue
                report = verify_chain(chain)
            problems += self._report(report, ws.slug)
        if not opts["slug"]:
            with db_scope():
                chain = AuditChain.objects.filter(key=GLOBAL_CHAIN).first()
                if chain is not None:
                    problems += self._report(verify_chain(chain), "global")
        if problems:
            raise CommandError("Audit trail verification FAILED: " + "; ".join(problems))

    def _report(self, report: Any, label: str) -> list[str]:
        if report.ok:
            self.stdout.write(f"{label}: OK — {report.events} events, head {report.head_hash}")
            return []
        self.stdout.write(self.style.ERROR(f"{label}: BROKEN — {report.problem}"))
        return [str(report.problem)]
