"""Purge receipts (/w/<slug>/retention/runs/ and runs/<id>/): every run of the
workspace with its trigger, who started it and its status; one run's counts per
category and action, per store, its errors and a dry run's listing. The
installation's own runs and another workspace's answer 404."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kernel import retention as registry
from kernel.tenancy import workspace_context
from retention.engine import purge_run
from retention.models import PurgeRun, RunTrigger
from tests.conftest import World, login
from tests.retention.ui_world import PROBE_STORE, Floor, build_floor, probe_rows, register_probe

RUNS = "/w/acme/retention/runs/"


@pytest.fixture
def floor(world: World) -> Floor:
    return build_floor(world)


def run_in(f: Floor, **options) -> PurgeRun:
    with workspace_context(f.ws):
        return purge_run(workspace=f.ws, **options)


def test_no_runs_yet_says_what_will_come(floor: Floor):
    text = login(floor.auditor).get(RUNS).content.decode()
    assert 'data-testid="runs-empty"' in text and "The nightly job purges" in text


def test_the_list_shows_each_run_with_its_trigger_author_and_status(floor: Floor, monkeypatch):
    register_probe(monkeypatch)
    probe_rows(floor.meera_1, [130, 120])
    nightly = run_in(floor)
    by_hand = run_in(floor, dry_run=True, trigger=RunTrigger.MANUAL, actor=floor.world.alice)
    text = login(floor.auditor).get(RUNS).content.decode()
    rows = {run.pk: text.split(f'<tr data-run="{run.pk}">', 1)[1].split("</tr>", 1)[0] for run in (nightly, by_hand)}
    assert "Purge" in rows[nightly.pk] and "Nightly" in rows[nightly.pk] and "system" in rows[nightly.pk]
    assert "Dry run" in rows[by_hand.pk] and "alice@example.com" in rows[by_hand.pk] and "would go" in rows[by_hand.pk]
    assert text.index(str(by_hand.pk)) < text.index(str(nightly.pk))  # the newest first


def test_a_purges_receipt_counts_per_category_action_and_store(floor: Floor, monkeypatch):
    register_probe(monkeypatch)
    probe_rows(floor.meera_1, [130, 120, 5])
    run = run_in(floor, category="PROBE_RECORDS")
    text = login(floor.manager).get(f"{RUNS}{run.pk}/").content.decode()
    counts = text.split('data-testid="run-counts"', 1)[1].split("</table>", 1)[0]
    assert "Probe records" in counts and "Delete" in counts and '<td class="num">2</td>' in counts
    store = text.split('<tr data-store="tests.probe">', 1)[1].split("</tr>", 1)[0]
    assert "Probe timeline lines" in store and "100 days" in store and "done" in store
    assert "<strong>2</strong>" in text.split('data-testid="run-total"', 1)[1][:40]
    assert "What would go" not in text


def test_a_dry_runs_receipt_lists_what_would_go(floor: Floor, monkeypatch):
    register_probe(monkeypatch)
    due = probe_rows(floor.meera_1, [130, 120, 5])
    run = run_in(floor, dry_run=True, category="PROBE_RECORDS")
    text = login(floor.world.alice).get(f"{RUNS}{run.pk}/").content.decode()
    assert "A dry run changes nothing" in text and "What would go" in text
    listing = text.split('data-testid="listing-tests.probe"', 1)[1].split("</details>", 1)[0]
    assert f"timeline line {due[0]}" in listing and f"timeline line {due[1]}" in listing
    assert f"timeline line {due[2]}" not in listing


def test_a_failed_store_is_shown_with_its_error(floor: Floor, monkeypatch):
    def broken(ctx):
        raise RuntimeError("disk on fire")

    register_probe(monkeypatch)
    monkeypatch.setitem(registry._stores, "tests.broken", replace(PROBE_STORE, name="tests.broken", due=broken))
    run = run_in(floor, category="PROBE_RECORDS")
    text = login(floor.world.alice).get(f"{RUNS}{run.pk}/").content.decode()
    assert "badge-bad" in text and "failed" in text
    assert "<code>tests.broken</code>: RuntimeError: disk on fire" in text
    assert "1 error" in login(floor.world.alice).get(RUNS).content.decode()


def test_the_installations_runs_and_another_workspaces_are_404(floor: Floor):
    installation = purge_run(workspace=None, dry_run=True)
    with workspace_context(floor.world.b):
        theirs = purge_run(workspace=floor.world.b, dry_run=True)
    alice = login(floor.world.alice)
    for run in (installation, theirs):
        assert alice.get(f"{RUNS}{run.pk}/").status_code == 404
        assert str(run.pk) not in alice.get(RUNS).content.decode()
    assert login(floor.world.bob).get(f"/w/globex/retention/runs/{theirs.pk}/").status_code == 200
    mine = run_in(floor, dry_run=True)
    assert login(floor.world.bob).get(f"{RUNS}{mine.pk}/").status_code == 404


def test_agents_and_client_users_do_not_read_receipts(floor: Floor):
    run = run_in(floor, dry_run=True)
    for user in (floor.agent, floor.client_user):
        assert login(user).get(RUNS).status_code == 403
        assert login(user).get(f"{RUNS}{run.pk}/").status_code == 403
    assert login(floor.auditor).get(f"{RUNS}{run.pk}/").status_code == 200
