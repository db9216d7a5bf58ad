"""The retention schedule (/w/<slug>/retention/): every category with its period,
source and who set it, what falls due now and within 30 days; the workspace's own
periods (refused below a legal minimum, naming the law); dry runs and purges started
from the page; the CSV; and who may do what."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from debtors.models import DebtEvent
from kernel import retention as registry
from kernel.privacy.registry import FINANCIAL_RECORDS, SECURITY_LOGS
from kernel.tenancy import workspace_context
from retention.engine import purge_start
from retention.models import PurgeRun, RunStatus, RunTrigger
from retention.schedules import rules
from tests.conftest import World, add_member, login
from tests.retention.ui_world import PROBE_KIND, PROBE_STORE, Floor, build_floor, probe_rows, register_probe

SCHEDULE = "/w/acme/retention/"


@pytest.fixture
def floor(world: World) -> Floor:
    return build_floor(world)


def row_of(text: str, category: str) -> str:
    """The schedule table's row for ``category``."""
    start = text.index(f'<tr data-category="{category}">')
    return text[start : text.index("</tr>", start)]


def runs_of(f: Floor) -> list[PurgeRun]:
    with workspace_context(f.ws):
        return list(PurgeRun.objects.for_workspace(f.ws).order_by("started_at"))


def probes_left(f: Floor) -> int:
    with workspace_context(f.ws):
        return DebtEvent.objects.for_workspace(f.ws).filter(kind=PROBE_KIND).count()


# --- What the schedule shows ------------------------------------------------------------


def test_every_category_with_its_period_source_and_who_set_it(floor: Floor):
    text = login(floor.world.alice).get(SCHEDULE).content.decode()
    for name in rules():
        assert f'<tr data-category="{name}">' in text, name
    books = row_of(text, "FINANCIAL_RECORDS")
    assert "8 years" in books and "(2920 days)" in books and "the end of the financial year" in books
    assert "Companies Act 2013 s.128(5)" in books and "the jurisdiction profile" in books
    account = row_of(text, "ACCOUNT_LIFETIME")
    assert "30 days" in account and "CollectPro&#x27;s default" in account
    # The other workspace's profile (US) gives its own law.
    us = login(floor.world.bob).get("/w/globex/retention/").content.decode()
    assert "IRS record keeping" in row_of(us, "FINANCIAL_RECORDS") and "7 years" in row_of(us, "FINANCIAL_RECORDS")


def test_due_now_and_within_30_days_count_this_workspaces_records(floor: Floor, monkeypatch):
    register_probe(monkeypatch)  # 100 days after the probe event
    probe_rows(floor.meera_1, [130, 105, 80, 75, 10])  # 2 past it, 2 more within 30 days, 1 not
    probe_rows(floor.other, [130, 130, 130])  # workspace B's: never counted here
    text = login(floor.world.alice).get(SCHEDULE).content.decode()
    probe = row_of(text, "PROBE_RECORDS")
    assert [c.split("<", 1)[0] for c in probe.split('<td class="num">')[1:]] == ["2", "4"]
    assert "Probe timeline lines" in probe and "Delete" in probe and "Probe Retention Act s.1 (tests)" in probe
    assert 'id="chart-retention-due-title"' in text and 'role="img"' in text
    assert "Probe records 4" in text  # the chart's description


def test_a_store_that_cannot_count_says_so_and_the_page_still_works(floor: Floor, monkeypatch):
    def broken(ctx):
        raise RuntimeError("disk on fire")

    register_probe(monkeypatch)
    monkeypatch.setitem(registry._stores, "tests.broken", replace(PROBE_STORE, name="tests.broken", due=broken))
    response = login(floor.world.alice).get(SCHEDULE)
    assert response.status_code == 200
    assert "could not count" in row_of(response.content.decode(), "PROBE_RECORDS")


def test_the_csv_has_one_line_per_category(floor: Floor, monkeypatch):
    register_probe(monkeypatch)
    probe_rows(floor.meera_1, [130])
    response = login(floor.auditor).get(SCHEDULE + "schedule.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {line["category"] for line in lines} == set(rules())
    probe = next(line for line in lines if line["category"] == "PROBE_RECORDS")
    assert (probe["days"], probe["set_by"], probe["due_now"], probe["due_within_30_days"]) == (
        "100",
        "registry",
        "1",
        "1",
    )
    books = next(line for line in lines if line["category"] == "FINANCIAL_RECORDS")
    assert books["legal_minimum_days"] == "2920" and "Companies Act" in books["source"]


# --- The workspace's own periods ----------------------------------------------------------


def books_store(monkeypatch) -> None:
    """A store of the workspace's own under FINANCIAL_RECORDS, so its period acts here
    (the schedule offers the form only then) whatever else is registered."""
    store = replace(PROBE_STORE, name="tests.books", rule=FINANCIAL_RECORDS)
    monkeypatch.setitem(registry._stores, store.name, store)


def test_an_owner_lengthens_a_period_and_goes_back_to_the_default(floor: Floor, monkeypatch):
    books_store(monkeypatch)
    alice = login(floor.world.alice)
    form = {"category": "FINANCIAL_RECORDS", "days": "3650", "reason": "Client contract clause 14.2"}
    response = alice.post(SCHEDULE + "periods/", form)
    assert response.status_code == 302
    text = alice.get(SCHEDULE).content.decode()
    books = row_of(text, "FINANCIAL_RECORDS")
    assert "10 years" in books and "Client contract clause 14.2" in books and "this workspace" in books
    assert "Financial records: kept for 10 years in this workspace." in text
    with workspace_context(floor.ws):
        changed = AuditEvent.objects.filter(workspace_id=floor.ws.pk, action=actions.RETENTION_PERIOD_CHANGED)
        assert [e.metadata["days"] for e in changed] == [3650]

    assert alice.post(SCHEDULE + "periods/", {"category": "FINANCIAL_RECORDS", "clear": "1"}).status_code == 302
    assert "the jurisdiction profile" in row_of(alice.get(SCHEDULE).content.decode(), "FINANCIAL_RECORDS")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"days": "365", "reason": "We want less"},
            "At least 2920 days: Companies Act 2013 s.128(5): books of account for 8 years requires keeping it that long.",
        ),
        ({"days": "3650", "reason": ""}, "This field is required."),
        ({"days": "0", "reason": "x"}, "Ensure this value is greater than or equal to 1."),
        ({"days": "ten", "reason": "x"}, "Enter a whole number."),
    ],
)
def test_a_period_form_shows_its_error_next_to_the_field(floor: Floor, form, error, monkeypatch):
    books_store(monkeypatch)
    response = login(floor.world.alice).post(SCHEDULE + "periods/", {"category": "FINANCIAL_RECORDS", **form})
    assert response.status_code == 400
    text = response.content.decode().replace("&#x27;", "'")
    assert error in text and 'class="field-error"' in text
    assert '<details open data-testid="period-form-FINANCIAL_RECORDS">' in text
    assert "the jurisdiction profile" in row_of(text, "FINANCIAL_RECORDS")  # unchanged


# --- Dry runs and purges from the page ------------------------------------------------------


def test_a_dry_run_from_the_page_lists_what_would_go_and_changes_nothing(
    floor: Floor, monkeypatch, django_capture_on_commit_callbacks
):
    register_probe(monkeypatch)
    due = probe_rows(floor.meera_1, [130, 105, 10])
    alice = login(floor.world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(SCHEDULE + "runs/start/", {"kind": "dry_run"})
    [run] = runs_of(floor)
    assert response.status_code == 302 and response["Location"] == f"/w/acme/retention/runs/{run.pk}/"
    assert (run.dry_run, run.trigger, run.started_by, run.status) == (
        True,
        RunTrigger.MANUAL,
        floor.world.alice,
        RunStatus.DONE,
    )
    assert run.counts["PROBE_RECORDS"] == {"delete": 2}
    assert probes_left(floor) == 3
    page = alice.get(response["Location"]).content.decode()
    assert "Dry run queued on a worker" in page
    assert all(f"timeline line {pk}" in page for pk in due[:2]) and f"timeline line {due[2]}" not in page


def test_purge_now_removes_what_is_past_its_period(floor: Floor, monkeypatch, django_capture_on_commit_callbacks):
    register_probe(monkeypatch)
    probe_rows(floor.meera_1, [130, 105, 10])
    with django_capture_on_commit_callbacks(execute=True):
        login(floor.world.alice).post(SCHEDULE + "runs/start/", {"kind": "purge"})
    [run] = runs_of(floor)
    assert not run.dry_run and run.counts["PROBE_RECORDS"] == {"delete": 2}
    assert probes_left(floor) == 1


def test_no_new_run_while_one_is_running(floor: Floor):
    with workspace_context(floor.ws):
        running = purge_start(workspace=floor.ws, trigger=RunTrigger.NIGHTLY)  # a worker died during it
    alice = login(floor.world.alice)
    text = alice.get(SCHEDULE).content.decode()
    assert 'data-testid="run-running"' in text
    assert 'value="dry_run" disabled' in text and 'value="purge" class="secondary" disabled' in text
    refused = alice.post(SCHEDULE + "runs/start/", {"kind": "dry_run"}, follow=True)
    assert "is still running; wait for its receipt." in refused.content.decode()
    assert runs_of(floor) == [running]


def test_a_dry_run_a_dead_worker_left_does_not_block_for_ever(floor: Floor, django_capture_on_commit_callbacks):
    with workspace_context(floor.ws):
        stale = purge_start(workspace=floor.ws, dry_run=True, trigger=RunTrigger.MANUAL)
        PurgeRun.objects.for_workspace(floor.ws).filter(pk=stale.pk).update(
            started_at=timezone.now() - timedelta(hours=2)
        )
    alice = login(floor.world.alice)
    assert 'data-testid="run-running"' not in alice.get(SCHEDULE).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert alice.post(SCHEDULE + "runs/start/", {"kind": "dry_run"}).status_code == 302
    assert len(runs_of(floor)) == 2


# --- Who may do what ------------------------------------------------------------------------


def test_an_auditor_reads_the_schedule_and_every_post_is_refused(floor: Floor):
    auditor = login(floor.auditor)
    text = auditor.get(SCHEDULE).content.decode()
    assert "FINANCIAL_RECORDS" in text
    assert 'data-testid="dry-run"' not in text and "Change this workspace&#x27;s period" not in text
    assert auditor.post(SCHEDULE + "runs/start/", {"kind": "dry_run"}).status_code == 403
    form = {"category": "FINANCIAL_RECORDS", "days": "4000", "reason": "x"}
    assert auditor.post(SCHEDULE + "periods/", form).status_code == 403
    assert runs_of(floor) == []


def test_a_manager_reads_but_only_retention_manage_changes(floor: Floor, monkeypatch):
    books_store(monkeypatch)
    manager = login(floor.manager)
    text = manager.get(SCHEDULE).content.decode()
    assert 'data-testid="dry-run"' not in text and 'data-testid="period-form-FINANCIAL_RECORDS"' not in text
    assert manager.post(SCHEDULE + "runs/start/", {"kind": "purge"}).status_code == 403
    admin = add_member(floor.ws, "admin@example.com", "admin")
    admin_page = login(admin).get(SCHEDULE).content.decode()
    assert 'data-testid="dry-run"' in admin_page and 'data-testid="period-form-FINANCIAL_RECORDS"' in admin_page


def test_no_period_form_where_the_workspaces_period_would_change_nothing(floor: Floor, monkeypatch):
    """A category only installation-wide stores or backups hold: its period is not
    this workspace's to set."""
    register_probe(monkeypatch)
    installation_only = replace(PROBE_STORE, name="tests.global", rule=SECURITY_LOGS, scope="global")
    monkeypatch.setattr(registry, "_stores", {"tests.probe": PROBE_STORE, "tests.global": installation_only})
    text = login(floor.world.alice).get(SCHEDULE).content.decode()
    assert 'data-testid="period-form-PROBE_RECORDS"' in text
    assert 'data-testid="period-form-SECURITY_LOGS"' not in text
    assert "purged by the installation's own nightly run" in text


def test_agents_and_client_users_get_no_retention_pages(floor: Floor):
    for user in (floor.agent, floor.client_user):
        client = login(user)
        assert client.get(SCHEDULE).status_code == 403
        assert client.get(SCHEDULE + "schedule.csv").status_code == 403
        assert "/retention/" not in client.get("/w/acme/").content.decode()  # no nav link either
    assert 'href="/w/acme/retention/"' in login(floor.auditor).get("/w/acme/").content.decode()


def test_another_workspace_gets_404(floor: Floor):
    bob = login(floor.world.bob)
    for path in ("", "schedule.csv", "runs/", "holds/"):
        assert bob.get(SCHEDULE + path).status_code == 404
    for path in ("periods/", "runs/start/"):
        assert bob.post(SCHEDULE + path, {"kind": "purge", "category": "FINANCIAL_RECORDS"}).status_code == 404
