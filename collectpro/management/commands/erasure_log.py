from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import make_aware

from collectpro.erasure_log import erasure_log_lines, erasure_log_replay
from kernel.context import request_info


class Command(BaseCommand):
    help = (
        "The erasure log (docs/retention.md, 'Backups'). 'export' writes one JSON line per shredded data key "
        "(ids and time only) — run it nightly to storage outside the database backups; 'replay FILE' shreds "
        "again, in a database restored from a backup, every key shredded since that backup was taken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write the log (to stdout or --output)")
        export.add_argument("--since", help="Only keys shredded on or after this date (YYYY-MM-DD)")
        export.add_argument("--output", help="Append to this file instead of stdout")
        replay = sub.add_parser("replay", help="Shred again every key in FILE ('-' for stdin)")
        replay.add_argument("file")

    def handle(self, *args: Any, **opts: Any) -> None:
        with request_info(source="cli"):
            if opts["action"] == "export":
                self._export(opts)
            else:
                self._replay(opts)

    def _export(self, opts: dict[str, Any]) -> None:
        since = None
        if opts.get("since"):
            day = parse_date(opts["since"])
            if day is None:
                raise CommandError(f"--since {opts['since']!r} is not a date (YYYY-MM-DD).")
            parsed = parse_datetime(f"{day.isoformat()}T00:00:00")
            assert parsed is not None
            since = make_aware(parsed)
        count = 0
        out = open(opts["output"], "a", encoding="utf-8") if opts.get("output") else None  # noqa: SIM115
        try:
            for line in erasure_log_lines(since=since):
                (out or self.stdout).write(line + "\n")
                count += 1
        finally:
            if out is not None:
                out.close()
        self.stderr.write(f"{count} shredded keys written")

    def _replay(self, opts: dict[str, Any]) -> None:
        path = opts["file"]
        try:
            handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        try:
            result = erasure_log_replay(lines=handle)
        finally:
            if handle is not sys.stdin:
                handle.close()
        self.stdout.write(
            f"shredded again: {result.shredded}; already shredded: {result.already}; "
            f"unknown workspace: {result.unknown_workspace}"
        )
        for problem in result.bad_lines or []:
            self.stdout.write(self.style.ERROR(problem))
        if result.bad_lines:
            raise CommandError(
                f"{len(result.bad_lines)} lines could not be read (listed above); the rest was replayed."
            )
