from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Workspace
from collectpro.key_rotation import RotationResult, master_keys_in_use, pending_count, rotate_workspace
from kernel.context import request_info
from kernel.crypto.keys import get_key_provider


class Command(BaseCommand):
    help = (
        "Move every workspace's keys under the primary master key (the first in FIELD_ENCRYPTION_KEYS), "
        "re-wrapping subject keys in batches. Safe to interrupt and run again; reads keep working throughout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", help="Only this workspace")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--max-batches", type=int, help="Stop after this many batches per workspace (throttling)")
        parser.add_argument(
            "--new-workspace-keys",
            action="store_true",
            help="Also replace workspace keys already under the primary master key",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        qs = Workspace.objects.order_by("pk")
        if opts["slug"]:
            qs = qs.filter(slug=opts["slug"])
            if not qs.exists():
                raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        workspaces = list(qs)
        primary = get_key_provider().primary_key_id
        total = sum(pending_count(ws) for ws in workspaces)
        self.stderr.write(f"Primary master key: {primary}. Subject keys to re-wrap: {total}.")
        result = RotationResult()
        with (
            tqdm(total=total, unit="key", disable=opts["no_progress"], file=self.stderr) as bar,
            request_info(source="cli"),
        ):
            for ws in workspaces:
                rotate_workspace(
                    ws,
                    batch_size=opts["batch_size"],
                    max_batches=opts["max_batches"],
                    new_workspace_key=opts["new_workspace_keys"],
                    on_batch=bar.update,
                    result=result,
                )
        self.stdout.write(
            f"Re-wrapped {result.rewrapped} subject keys in {result.workspaces} workspaces; "
            f"{result.new_workspace_keys} new workspace keys; {result.retired} retired; {result.remaining} remaining."
        )
        in_use = master_keys_in_use()
        self.stdout.write("Master keys still in use: " + (", ".join(f"{k} ({n})" for k, n in in_use.items()) or "none"))
        if result.remaining:
            self.stdout.write(self.style.WARNING("Not finished: run rotate_keys again to continue."))
        elif set(in_use) <= {primary}:
            self.stdout.write(
                self.style.SUCCESS("Done. Older master keys can now be removed from FIELD_ENCRYPTION_KEYS.")
            )
