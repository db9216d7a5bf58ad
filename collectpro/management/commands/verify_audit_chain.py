from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from audit.models import GLOBAL_CHAIN, AuditChain, chain_key
from audit.selectors import ChainReport, verify_chain
from audit.signing import public_key_line
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope


class Command(BaseCommand):
    help = (
        "Verify the hash-chained audit trail, from the last signed checkpoint where older events were pruned. "
        "Exits 0 when intact; non-zero naming the first bad event or checkpoint when a row was edited, inserted "
        "or deleted or a checkpoint forged. Without SLUG, checks every workspace and the global chain."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?")
        parser.add_argument(
            "--public-key",
            action="store_true",
            help="Print the checkpoint key's public half (for AUDIT_CHECKPOINT_PUBLIC_KEYS on an auditor's copy).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["public_key"]:
            self.stdout.write(public_key_line())
            return
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

    def _report(self, report: ChainReport, label: str) -> list[str]:
        if not report.ok:
            self.stdout.write(self.style.ERROR(f"{label}: BROKEN — {report.problem}"))
            return [str(report.problem)]
        line = f"{label}: OK — {report.events} events, head {report.head_hash}"
        cp = report.checkpoint
        if report.pruned and cp is not None:
            start = "starting from" if cp.seq == report.pruned else "pruning in progress up to"
            line += (
                f"; {report.pruned} older events pruned, {start} checkpoint #{cp.seq} "
                f"signed {cp.signed_at:%Y-%m-%d %H:%M} UTC (key {cp.key_id})"
            )
        if report.checkpoints:
            line += f"; {report.checkpoints} signed checkpoint{'s' if report.checkpoints != 1 else ''} verified"
        self.stdout.write(line)
        return []
