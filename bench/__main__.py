"""Run the benchmarks: ``python -m bench [NAME ...] [--quick] [--write | --no-write]``.

* No names: every benchmark in ``bench.BENCHMARKS``; otherwise only those named
  (``bench.LARGE_BENCHMARKS`` run only when named; a module whose ``VENDORS`` does not
  include the database's vendor is skipped, and one that returns no rows writes nothing).
* Database: ``DATABASE_URL`` if set (its database name must contain "bench", because
  the run writes workspaces, keys and audit events into it; ``--any-database`` skips
  that check), otherwise a fresh SQLite file under ``var/bench/`` that is migrated
  first and deleted afterwards (``--keep-db`` keeps it).
* Results are printed as a table and, for a full run, written into
  ``docs/PERFORMANCE.md`` between ``<!-- bench:<name>:<vendor>:start -->`` and
  ``<!-- bench:<name>:<vendor>:end -->`` (one block per benchmark and database vendor).
  ``--quick`` runs are not written unless ``--write`` is given, so a smoke test does
  not replace the recorded figures; ``--no-write`` turns writing off for a full run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import BENCHMARKS, LARGE_BENCHMARKS, Row

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "PERFORMANCE.md"
VAR_BENCH = REPO / "var" / "bench"
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="CollectPro benchmarks: rates as ratios against a baseline measured in the same run.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)}; only when named: {', '.join(LARGE_BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short repeats (a smoke test, ~20 s); not written to the docs"
    )
    write = parser.add_mutually_exclusive_group()
    write.add_argument(
        "--write",
        dest="write",
        action="store_true",
        default=None,
        help="update docs/PERFORMANCE.md (default for full runs)",
    )
    write.add_argument("--no-write", dest="write", action="store_false", help="only print the results")
    parser.add_argument("--keep-db", action="store_true", help="keep the throwaway SQLite file under var/bench/")
    parser.add_argument("--any-database", action="store_true", help='allow a DATABASE_URL whose name lacks "bench"')
    args = parser.parse_args(argv)
    known = BENCHMARKS + LARGE_BENCHMARKS
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(known)})")
    args.names = [n for n in known if n in args.names] if args.names else list(BENCHMARKS)
    if args.write is None:
        args.write = not args.quick
    return args


# --- Environment and database ---------------------------------------------------


def configure_environment(args: argparse.Namespace) -> Path | None:
    """Settings and database for the run; returns the throwaway SQLite file, if any."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "collectpro.settings.local")
    # Measure what production runs: without DEBUG's query log (local settings turn it on).
    os.environ.setdefault("DEBUG", "false")
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        import environ

        name = str(environ.Env.db_url_config(url).get("NAME", ""))
        if "bench" not in Path(name).name.lower() and not args.any_database:
            sys.exit(
                f"DATABASE_URL points at database {Path(name).name!r}: the benchmarks write into it, so its name "
                'must contain "bench" (e.g. collectpro_bench). Use --any-database to override, or unset DATABASE_URL '
                "for a throwaway SQLite file."
            )
        return None
    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="bench-", suffix=".sqlite3", dir=VAR_BENCH)
    os.close(fd)
    os.unlink(path)  # a fresh, empty file per run (created by the first connection)
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    return Path(path)


def migrations_digest() -> str:
    """Identifies the schema ``migrate`` builds: every migration's name, and the text of
    the project's own (which may still be edited in place while they are unreleased)."""
    from django.db.migrations.loader import MigrationLoader

    digest = hashlib.sha256()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app_label, name in sorted(loader.disk_migrations):
        digest.update(f"{app_label}.{name}\n".encode())
    for path in sorted(REPO.glob("*/migrations/*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def setup_django(sqlite_file: Path | None) -> None:
    """``django.setup()`` and ``migrate``. A throwaway SQLite file starts as a copy of a
    pristine migrated database kept in var/bench/ for the current migrations (made by
    the first run after they change), so a run does not spend most of its time on
    migrating; ``migrate`` still runs, and finds nothing to do."""
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    if settings.DEBUG:
        print("warning: DEBUG is on; the query log will slow the database benchmarks down", file=sys.stderr)
    started = time.perf_counter()
    template = VAR_BENCH / f"template-{migrations_digest()}.sqlite3" if sqlite_file else None
    from_template = template is not None and template.exists()
    if from_template:
        assert template is not None and sqlite_file is not None
        shutil.copyfile(template, sqlite_file)
    call_command("migrate", interactive=False, verbosity=0)
    if template is not None and sqlite_file is not None and not from_template:
        connections.close_all()  # checkpoints the WAL into the main file
        for old in VAR_BENCH.glob("template-*.sqlite3"):
            old.unlink()
        partial = template.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(sqlite_file, partial)
        partial.replace(template)
    how = f" (from {template.relative_to(REPO)})" if from_template and template is not None else ""
    print(f"migrated in {time.perf_counter() - started:.1f} s{how}")


def remove_sqlite(path: Path) -> None:
    from django.db import connections

    connections.close_all()
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def describe_database(throwaway: bool) -> tuple[str, str]:
    """(vendor key for the docs markers, human description without secrets)."""
    from django.conf import settings
    from django.db import connection

    vendor = connection.vendor
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if vendor == "sqlite":
            import sqlite3

            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(cursor.fetchone()[0], "?")
            where = "a fresh file under var/bench/" if throwaway else f"file {name}"
            return vendor, f"SQLite {sqlite3.sqlite_version} ({where}, journal_mode={journal}, synchronous={sync})"
        if vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0].split()[0]
            cursor.execute("SHOW synchronous_commit")
            sync = cursor.fetchone()[0]
            cursor.execute("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            user, bypass = cursor.fetchone()
            host = connection.settings_dict.get("HOST") or "local socket"
            rls = "bypasses row-level security" if bypass else "subject to row-level security"
            role = getattr(settings, "TENANCY_DB_ROLE", "")
            if role:
                rls += f"; workspace_context switches to role {role} (TENANCY_DB_ROLE)"
            return vendor, (
                f"PostgreSQL {version} (database {name} on {host}, user {user}: {rls}, synchronous_commit={sync})"
            )
    return vendor, f"{vendor} (database {name})"


def describe_machine() -> str:
    import cryptography
    import django

    return (
        f"Python {platform.python_version()} · Django {django.get_version()} · cryptography {cryptography.__version__} · "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )


# --- Output -----------------------------------------------------------------------


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.3g}"


def print_table(title: str, rows: list[Row]) -> None:
    table = [("benchmark", "rate", "baseline", "ratio", "notes")]
    table += [
        (r.name, f"{fmt_rate(r.value)} {r.unit}", f"{fmt_rate(r.baseline)} {r.unit}", fmt_ratio(r.ratio), r.notes)
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    print(f"\n== {title}")
    for i, line in enumerate(table):
        cells = [
            line[0].ljust(widths[0]),
            *(cell.rjust(width) for cell, width in zip(line[1:4], widths[1:], strict=True)),
        ]
        print("  ".join([*cells, line[4]]).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def markdown_block(rows: list[Row], *, stamp: str, database: str, machine: str, mode: str) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("*", "\\*")

    lines = [
        f"_Last run {stamp} ({mode}) on {database}; {machine}._",
        "",
        "| Benchmark | Rate | Baseline, same run | Ratio | Notes |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {cell(r.name)} | {fmt_rate(r.value)} {r.unit} | {fmt_rate(r.baseline)} {r.unit} "
            f"| **{fmt_ratio(r.ratio)}** | {cell(r.notes)} |"
        )
    return "\n".join(lines)


def update_doc(text: str, key: str, body: str) -> str:
    """Replace the text between the markers of ``key`` (appending a section if absent)."""
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{body}\n{end}"
    head, found, rest = text.partition(start)
    if found:
        _, found_end, tail = rest.partition(end)
        if not found_end:
            raise ValueError(f"{DOC.name}: {start} has no matching {end}")
        return head + block + tail
    return text.rstrip("\n") + f"\n\n### Results: {key}\n\n{block}\n"


def write_doc(blocks: dict[str, str]) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    for key, body in blocks.items():
        text = update_doc(text, key, body)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(DOC)


# --- Main ---------------------------------------------------------------------------


def run_benchmark(name: str, quick: bool) -> tuple[list[Row] | None, float]:
    module: Any = importlib.import_module(f"bench.{name}")
    started = time.perf_counter()
    try:
        rows = module.run(quick)
    except Exception:
        traceback.print_exc()
        return None, time.perf_counter() - started
    return rows, time.perf_counter() - started


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    sqlite_file = configure_environment(args)
    try:
        setup_django(sqlite_file)
        vendor, database = describe_database(throwaway=sqlite_file is not None)
        machine = describe_machine()
        mode = "quick run, --quick" if args.quick else "full run, median of 5 repeats"
        if sqlite_file is not None:
            print(
                f"sqlite:   {sqlite_file.relative_to(REPO)}{' (kept)' if args.keep_db else ' (deleted after the run)'}"
            )
        print(f"database: {database}\nmachine:  {machine}\nmode:     {'quick' if args.quick else 'full'}")
        blocks: dict[str, str] = {}
        failed = []
        for name in args.names:
            vendors = getattr(importlib.import_module(f"bench.{name}"), "VENDORS", None)
            if vendors is not None and vendor not in vendors:
                print(f"\n== {name}: skipped (runs on {', '.join(vendors)}, not {vendor})")
                continue
            rows, seconds = run_benchmark(name, args.quick)
            if rows is None:
                failed.append(name)
                print(f"\n== {name}: FAILED after {seconds:.1f} s", file=sys.stderr)
                continue
            if not rows:
                print(f"\n== {name}: nothing measured ({seconds:.1f} s)")
                continue
            print_table(f"{name} on {VENDOR_NAMES.get(vendor, vendor)} ({seconds:.1f} s)", rows)
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            run_mode = getattr(importlib.import_module(f"bench.{name}"), "RUN_MODE", None)
            blocks[f"{name}:{vendor}"] = markdown_block(
                rows,
                stamp=stamp,
                database=database,
                machine=machine,
                mode=f"{'quick' if args.quick else 'full'} run, {run_mode}" if run_mode else mode,
            )
    finally:
        if sqlite_file is not None and not args.keep_db:
            remove_sqlite(sqlite_file)
    print()
    if blocks and args.write:
        write_doc(blocks)
        print(f"updated {DOC.relative_to(REPO)}: {', '.join(f'bench:{k}' for k in blocks)}")
    elif blocks:
        print(
            f"not written to {DOC.relative_to(REPO)} ({'quick run; add --write to record it' if args.quick else '--no-write'})"
        )
    print("ratio = CollectPro rate / baseline rate in the same run (1 = as fast; 0.1 = ten times the time)")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
