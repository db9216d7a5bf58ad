from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Workspace
from accounts.selectors import client_get_by_reference
from kernel.context import request_info
from kernel.tenancy import workspace_context
from placements.import_header import COLUMNS, parse_header_map
from placements.imports import placement_import_create, placement_import_execute, placement_import_rejects

SHOW_REJECTS = 50


def one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(" ".join(messages) for messages in exc.message_dict.values())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Import a placement file (CSV) into a workspace: valid rows are imported, each invalid row is reported "
        "with its line number and reason. Re-importing the same file creates no duplicates. "
        f"Columns: {', '.join(COLUMNS)}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The workspace")
        parser.add_argument("file", help="Path of the CSV file (UTF-8, header on the first line)")
        parser.add_argument("--client", help="Client reference for the whole file (rows may then omit client_ref)")
        parser.add_argument(
            "--strict", action="store_true", help="Import nothing if any row is invalid (exit status 1)"
        )
        parser.add_argument("--map", help="Other column names: our_column=their_column,… e.g. external_ref=Customer No")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = Workspace.objects.filter(slug=opts["slug"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        try:
            mapping = parse_header_map(opts["map"])
        except ValidationError as exc:
            raise CommandError(f"--map: {one_line(exc)}") from exc
        client = None
        if opts["client"]:
            with workspace_context(workspace):
                client = client_get_by_reference(workspace=workspace, reference=opts["client"])
            if client is None:
                raise CommandError(f"No client with reference {opts['client']!r} in {workspace.slug}.")
        path = Path(opts["file"])
        with request_info(source="cli"):
            try:
                with path.open("rb") as fh:
                    job = placement_import_create(
                        workspace=workspace,
                        file_obj=fh,
                        file_name=path.name,
                        client=client,
                        strict=opts["strict"],
                        header_map=mapping,
                    )
            except OSError as exc:
                raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
            except ValidationError as exc:
                raise CommandError(one_line(exc)) from exc
            job = self._execute(workspace, job.pk, disable=opts["no_progress"])
        self._report(job)

    def _execute(self, workspace: Workspace, import_id: Any, *, disable: bool) -> Any:
        bars: dict[str, tqdm[Any]] = {}

        def progress(phase: str, done: int, total: int) -> None:
            bar = bars.get(phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                bar = bars[phase] = tqdm(
                    total=total, unit="row", desc=phase.capitalize(), disable=disable, file=self.stderr
                )
            bar.update(done - bar.n)

        try:
            return placement_import_execute(workspace=workspace, import_id=import_id, progress=progress)
        finally:
            for bar in bars.values():
                bar.close()

    def _rejects_path(self, job: Any) -> str:
        try:
            return str(default_storage.path(job.rejects_storage_name))
        except NotImplementedError:  # remote storage: the name is all there is
            return str(job.rejects_storage_name)

    def _report(self, job: Any) -> None:
        self.stdout.write(
            f"{job.file_name}: {job.processed_rows} rows — created {job.created_count}, updated {job.updated_count}, "
            f"unchanged {job.unchanged_count}, rejected {job.rejected_count}."
        )
        for line, reason in placement_import_rejects(job, limit=SHOW_REJECTS):
            self.stdout.write(f"line {line}: {reason}")
        if job.rejected_count > SHOW_REJECTS:
            self.stdout.write(
                f"… and {job.rejected_count - SHOW_REJECTS} more; see the rejects file {self._rejects_path(job)}"
            )
        elif job.rejected_count:
            self.stdout.write(f"Rejected rows with their reasons: {self._rejects_path(job)}")
        if job.status == "failed":
            raise CommandError(f"Import failed: {job.error}")
        if job.strict and job.rejected_count:
            raise CommandError(f"--strict: {job.rejected_count} invalid row(s), nothing was imported.")
        self.stdout.write(self.style.SUCCESS(f"Import {job.pk} done."))
