"""The rules `make lint` runs really bite: tools/lint_rules.py and the import-linter contracts.

No database and no Django: the checker reads source with `ast`, and import-linter only
parses files, so these run in well under a second each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tools.lint_rules import DIRECT_WRITES_ALLOWED, LOCAL_IMPORTS_ALLOWED, ROOT_PACKAGES, check, is_view_or_task

PROJECT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A one-app project: `shop`, with one problem of each kind and code that must pass."""
    _write(tmp_path, "shop/__init__.py", "")
    _write(tmp_path, "shop/models.py", "class Thing:\n    objects = None\n")
    _write(
        tmp_path,
        "shop/services.py",
        """
        import json

        from shop.models import Thing


        def thing_create(*, name):
            import csv

            from shop.models import Thing as Late

            return json, csv, Thing, Late
        """,
    )
    _write(
        tmp_path,
        "shop/apps.py",
        """
        from django.apps import AppConfig


        class ShopConfig(AppConfig):
            name = "shop"

            def ready(self):
                from shop import signals  # noqa: F401
        """,
    )
    _write(
        tmp_path,
        "shop/views.py",
        """
        from shop.models import Thing


        def thing_add(request):
            return Thing.objects.create(name=request.POST["name"])


        def thing_list(request):
            return Thing.objects.all()
        """,
    )
    _write(tmp_path, "shop/tasks.py", "def thing_touch(thing):\n    thing.save()\n")
    _write(
        tmp_path, "shop/migrations/0001_initial.py", "def forwards(apps, schema_editor):\n    from shop import models\n"
    )
    return tmp_path


def test_function_level_project_import_is_reported_with_its_line(shop: Path) -> None:
    problems, files = check(shop, ["shop"], {}, {"shop/tasks.py:thing_touch": "test"})

    imports = [p for p in problems if "import" in p.message]
    assert [(p.path, p.line) for p in imports] == [("shop/services.py", 9)]
    assert "'shop.models' inside thing_create()" in imports[0].message
    assert str(imports[0]).startswith("shop/services.py:9: ")
    assert files == 6  # the migration is not read


def test_import_inside_app_config_ready_is_allowed(shop: Path) -> None:
    problems, _ = check(shop, ["shop"], {}, {})

    assert not [p for p in problems if p.path == "shop/apps.py"]


def test_write_in_a_view_is_reported(shop: Path) -> None:
    problems, _ = check(shop, ["shop"], {"shop/services.py:thing_create": "test"}, {})

    assert [str(p) for p in problems] == [
        'shop/tasks.py:2: .save() in a view or task: call a service that writes and audits in one transaction (or add "shop/tasks.py:thing_touch" to DIRECT_WRITES_ALLOWED)',
        'shop/views.py:5: .create() in a view or task: call a service that writes and audits in one transaction (or add "shop/views.py:thing_add" to DIRECT_WRITES_ALLOWED)',
    ]


def test_allow_listed_code_is_not_reported(shop: Path) -> None:
    problems, _ = check(
        shop,
        ["shop"],
        {"shop/services.py:thing_create": "breaks an import cycle"},
        {"shop/views.py:thing_add": "demo only", "shop/tasks.py:thing_touch": "touches a timestamp"},
    )

    assert problems == []


def test_stale_allow_list_entry_is_reported(shop: Path) -> None:
    problems, _ = check(
        shop,
        ["shop"],
        {"shop/services.py:thing_create": "breaks an import cycle", "shop/services.py:gone": "was moved"},
        {"shop/views.py:thing_add": "demo", "shop/tasks.py:thing_touch": "demo", "shop/views.py:thing_list": "reads"},
    )

    assert [p.message for p in problems] == [
        'DIRECT_WRITES_ALLOWED entry "shop/views.py:thing_list" matches nothing: remove it',
        'LOCAL_IMPORTS_ALLOWED entry "shop/services.py:gone" matches nothing: remove it',
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("debtors/views.py", True),
        ("reporting/views.py", True),
        ("payments/pages.py", True),
        ("accounts/api_clients.py", True),
        ("debtors/api/serializers.py", True),
        ("debtors/tasks.py", True),
        ("debtors/services/ledger.py", False),
        ("consent/models.py", False),
    ],
)
def test_views_and_tasks_are_recognised(path: str, expected: bool) -> None:
    assert is_view_or_task(Path(path)) is expected


def test_every_allow_list_entry_gives_a_reason() -> None:
    for entries in (DIRECT_WRITES_ALLOWED, LOCAL_IMPORTS_ALLOWED):
        assert all(reason.strip() for reason in entries.values())


# --- import-linter ------------------------------------------------------------------


def _copy_project(tmp_path: Path) -> Path:
    """The root packages' .py files (no migrations) and pyproject.toml, copied to tmp_path."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {"migrations", "__pycache__"}
        return {n for n in names if n in skipped or not (n.endswith(".py") or (Path(folder) / n).is_dir())}

    for package in ROOT_PACKAGES:
        if (PROJECT / package).is_dir():
            shutil.copytree(PROJECT / package, tmp_path / package, ignore=ignore)
        else:  # still being created by a move in progress: an empty package keeps the config valid
            _write(tmp_path, f"{package}/__init__.py", "")
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def _contract_name(contract_id: str) -> str:
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    return next(c["name"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == contract_id)


def test_import_linter_reports_a_forbidden_import(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    _write(root, "debtors/_probe.py", "import payments.models  # deliberately forbidden\n")

    result = _lint_imports(root)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert f"{_contract_name('debtors-below-payments')} BROKEN" in output
    assert "debtors._probe -> payments.models" in output


def test_import_linter_passes_on_the_real_packages(tmp_path: Path) -> None:
    result = _lint_imports(_copy_project(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
