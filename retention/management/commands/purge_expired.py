from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Workspace
from kernel.context import request_info
from retention.engine import OTHER_SCOPE, purge_estimate, purge_run
from retention.models import PurgeRun, RunTrigger


def _other_scope(exc: ValidationError) -> bool:
    """The category exists, but only among the other scope's stores (an unknown
    category is an error everywhere)."""
    errors = getattr(exc, "error_dict", {}).get("category", [])
    return bool(errors) and all(error.code == OTHER_SCOPE for error in errors)


class Command(BaseCommand):
    help = (
        "Purge what is past its retention period: every workspace and the installation's own stores "
        "(sessions, sign-in logs), or one workspace (SLUG). What a legal hold covers is kept. "
        "Continues a purge a crash left unfinished. --dry-run changes nothing and prints what would go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="Only this workspace (default: all, and the installation's stores)")
        parser.add_argument("--dry-run", action="store_true", help="List what would be purged; change nothing")
        parser.add_argument("--category", default="", help="Only this category (e.g. SECURITY_LOGS) or store")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["slug"]:
            workspaces: list[Workspace | None] = list(Workspace.objects.filter(slug=opts["slug"]))
            if not workspaces:
                raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        else:
            workspaces = [None, *Workspace.objects.order_by("pk")]
        failed = False
        with request_info(source="cli"):
            for workspace in workspaces:
                try:
                    run = self._run(workspace, opts)
                except ValidationError as exc:
                    if not opts["slug"] and _other_scope(exc):
                        continue  # a category of the other scope (workspace vs installation)
                    raise CommandError("; ".join(exc.messages)) from exc
                self._print(run, workspace)
                failed = failed or bool(run.errors)
        if failed:
            raise CommandError("Some stores failed (see the errors above); the next run tries them again.")

    def _run(self, workspace: Workspace | None, opts: dict[str, Any]) -> PurgeRun:
        total = sum(purge_estimate(workspace=workspace, category=opts["category"]).values())
        label = workspace.slug if workspace is not None else "installation"
        with tqdm(total=total, unit="record", desc=label, disable=opts["no_progress"], file=self.stderr) as bar:
            return purge_run(
                workspace=workspace,
                dry_run=opts["dry_run"],
                category=opts["category"],
                trigger=RunTrigger.COMMAND,
                on_progress=lambda _store, n: bar.update(n),
            )

    def _print(self, run: PurgeRun, workspace: Workspace | None) -> None:
        label = workspace.slug if workspace is not None else "installation"
        verb = "would purge" if run.dry_run else "purged"
        self.stdout.write(f"{label}: {verb} {run.total} records (run {run.pk}, {run.status})")
        for name, state in sorted(run.progress.items()):
            count = int(state.get("count", 0))
            if not count and not run.dry_run:
                continue
            self.stdout.write(
                f"  {state.get('category', '')} / {name} — {state.get('action', '')}: {count}"
                f" (period {state.get('days')} days, before {str(state.get('cutoff', ''))[:10]})"
            )
            if run.dry_run:
                for line in state.get("listing", []):
                    self.stdout.write(f"    {line}")
                if count > len(state.get("listing", [])):
                    self.stdout.write(f"    … and {count - len(state.get('listing', []))} more")
        for error in run.errors:
            self.stdout.write(self.style.ERROR(f"  {error.get('store')}: {error.get('error')}"))
