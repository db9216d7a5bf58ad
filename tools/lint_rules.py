"""Code rules that ruff and import-linter cannot express (run by `make lint`).

1. A project import belongs at the top of its module, where import-linter and a reader
   see it. Inside a function it is allowed only in `AppConfig.ready()` (where apps
   register hooks, panels and signal receivers) or by an entry in LOCAL_IMPORTS_ALLOWED.
2. Views and tasks do not write: they call a service, which writes and audits in one
   transaction. A `.save()`, `.create()`, `.delete()`, ... or `audit_record()` call in a
   view or task module is reported unless DIRECT_WRITES_ALLOWED has an entry for it.

Allow-list keys are "path/to/file.py:qualified_name" (e.g. "debtors/views.py:DebtDetail.get",
or "<module>" for module-level code); the value says why. An entry that matches nothing is
reported too, so the lists cannot rot. Run: python -m tools.lint_rules
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

ROOT_PACKAGES: tuple[str, ...] = (
    "kernel",
    "accounts",
    "audit",
    "debtors",
    "placements",
    "consent",
    "communications",
    "reporting",
    "payments",
    "privacy_requests",
    "retention",
    "incidents",
    "collectpro",
)

# "path/to/file.py:qualified_name": "why this import cannot be at module level"
LOCAL_IMPORTS_ALLOWED: dict[str, str] = {
    "communications/tasks.py:sequences_advance": "sequences send messages, and sending queues tasks from this module",
    "placements/imports.py:placement_import_enqueue": "placements.tasks imports this module: imported when queueing",
    "placements/import_worker.py:prepare": (
        "a spawned worker imports this module before Django is set up; import_rows needs the app registry"
        " (and imports this module)"
    ),
}

# "path/to/file.py:qualified_name": "why this view or task writes without a service"
DIRECT_WRITES_ALLOWED: dict[str, str] = {}

WRITE_METHODS = frozenset({"save", "create", "bulk_create", "get_or_create", "update_or_create", "delete"})
AUDIT_FUNCTION = "audit_record"
VIEW_FILE_PATTERNS = ("views.py", "*_views.py", "pages.py", "api.py", "api_*.py", "tasks.py")
VIEW_PACKAGE_NAMES = frozenset({"views", "api", "tasks"})
SKIPPED_DIRS = frozenset({"migrations", "__pycache__"})


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Finding:
    """Something a rule reports unless an allow-list entry (key) covers it."""

    key: str
    line: int
    message: str


def is_view_or_task(relative: Path) -> bool:
    """views.py, *_views.py, pages.py, api.py, api_*.py, tasks.py, or any module in a views/api/tasks package."""
    if any(part in VIEW_PACKAGE_NAMES for part in relative.parts[1:-1]):
        return True
    return any(fnmatch(relative.name, pattern) for pattern in VIEW_FILE_PATTERNS)


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, packages: frozenset[str], check_writes: bool) -> None:
        self.path = path
        self.packages = packages
        self.check_writes = check_writes
        self.scope: list[str] = []
        self.functions = 0  # how many function bodies enclose the current node
        self.in_ready = 0  # how many AppConfig.ready() bodies enclose it
        self.app_configs: list[bool] = []  # for each enclosing class: is it an AppConfig?
        self.imports: list[Finding] = []
        self.writes: list[Finding] = []

    def _key(self) -> str:
        return f"{self.path}:{'.'.join(self.scope) or '<module>'}"

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = {
            b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases
        }
        self.scope.append(node.name)
        self.app_configs.append(any(name.endswith("AppConfig") for name in bases))
        self.generic_visit(node)
        self.app_configs.pop()
        self.scope.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        is_ready = node.name == "ready" and self.functions == 0 and bool(self.app_configs) and self.app_configs[-1]
        self.scope.append(node.name)
        self.functions += 1
        self.in_ready += is_ready
        self.generic_visit(node)
        self.in_ready -= is_ready
        self.functions -= 1
        self.scope.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def _local_import(self, node: ast.Import | ast.ImportFrom, module: str) -> None:
        if self.functions and not self.in_ready:
            where = ".".join(self.scope)
            message = f"project import of {module!r} inside {where}(): move it to the top of the module"
            self.imports.append(Finding(self._key(), node.lineno, message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in self.packages:
                self._local_import(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or module.split(".")[0] in self.packages:
            self._local_import(node, "." * node.level + module)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if self.check_writes and (
            name == AUDIT_FUNCTION or (isinstance(func, ast.Attribute) and name in WRITE_METHODS)
        ):
            call = f"{name}()" if name == AUDIT_FUNCTION else f".{name}()"
            message = f"{call} in a view or task: call a service that writes and audits in one transaction"
            self.writes.append(Finding(self._key(), node.lineno, message))
        self.generic_visit(node)


def python_files(root: Path, packages: Sequence[str]) -> Iterator[Path]:
    """The .py files of the packages that exist under root, migrations left out."""
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if not SKIPPED_DIRS.intersection(path.relative_to(root).parts):
                yield path


def _apply(findings: list[Finding], allowed: Mapping[str, str], used: set[str], hint: str) -> Iterator[Problem]:
    for finding in findings:
        if finding.key in allowed:
            used.add(finding.key)
        else:
            path = finding.key.partition(":")[0]
            yield Problem(path, finding.line, f'{finding.message} (or add "{finding.key}" to {hint})')


def _stale(allowed: Mapping[str, str], used: set[str], name: str) -> Iterator[Problem]:
    here = Path(__file__)
    lines = here.read_text(encoding="utf-8").splitlines()
    for key in sorted(set(allowed) - used):
        line = next((n for n, text in enumerate(lines, 1) if f'"{key}"' in text), 1)
        yield Problem(f"tools/{here.name}", line, f'{name} entry "{key}" matches nothing: remove it')


def check(
    root: Path,
    packages: Sequence[str] = ROOT_PACKAGES,
    local_imports_allowed: Mapping[str, str] = LOCAL_IMPORTS_ALLOWED,
    direct_writes_allowed: Mapping[str, str] = DIRECT_WRITES_ALLOWED,
) -> tuple[list[Problem], int]:
    """Check the packages under root; return the problems (sorted) and how many files were read."""
    problems: list[Problem] = []
    used_imports: set[str] = set()
    used_writes: set[str] = set()
    files = 0
    for path in python_files(root, packages):
        files += 1
        relative = path.relative_to(root)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as error:
            problems.append(Problem(relative.as_posix(), error.lineno or 1, f"cannot parse: {error.msg}"))
            continue
        scanner = _Scanner(relative.as_posix(), frozenset(packages), is_view_or_task(relative))
        scanner.visit(tree)
        problems += _apply(scanner.imports, local_imports_allowed, used_imports, "LOCAL_IMPORTS_ALLOWED")
        problems += _apply(scanner.writes, direct_writes_allowed, used_writes, "DIRECT_WRITES_ALLOWED")
    problems += _stale(local_imports_allowed, used_imports, "LOCAL_IMPORTS_ALLOWED")
    problems += _stale(direct_writes_allowed, used_writes, "DIRECT_WRITES_ALLOWED")
    return sorted(problems), files


def main() -> int:
    problems, files = check(Path(__file__).resolve().parent.parent)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problems" if problems else f"ok: checked {files} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
