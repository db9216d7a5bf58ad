"""The dashboard (figures, charts, scopes, query count) and the client portal
(remittance figures, CSV statements, access rules)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Client, Membership, User, Workspace
from accounts.roles import Role
from accounts.selectors import clients_list, membership_for
from accounts.services import client_create, membership_add
from audit.models import AuditEvent
from debtors.models import Debt, LedgerEntry
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_assign, debt_create
from debtors.services.ledger import entry_reverse, payment_record
from debtors.services.promises import promise_create, promises_evaluate
from kernel.tenancy import workspace_context
from reporting import dashboard, formatting
from reporting.charts import Bar, Group, bar_chart, grouped_bars, horizontal_bars
from tests.conftest import PASSWORD, add_member, login


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Figures are cached for 60 s by workspace id; ids are reused between tests on
    # SQLite, so every test starts with an empty cache.
    cache.clear()
    yield
    cache.clear()


# --- Building a small known dataset through the services ------------------------


def _debt(ws: Workspace, client: Client, ref: str, amount: int, due: date | None, agent: User | None = None) -> Debt:
    with workspace_context(ws):
        debtor = debtor_create(
            workspace=ws, data=DebtorInput(full_name=f"Person {ref}", email=f"{ref.lower()}@debtor.example")
        )
        debt = debt_create(
            workspace=ws,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=ref, original_amount_minor=amount, currency=ws.currency, due_date=due),
        )
        if agent is not None:
            debt = debt_assign(debt=debt, agent=agent)
    return debt


def _pay(ws: Workspace, debt: Debt, amount: int) -> LedgerEntry:
    with workspace_context(ws):
        entry, _ = payment_record(debt=debt, amount_minor=amount)
    return entry


def _backdate(entry: LedgerEntry, when: datetime) -> None:
    # The ledger is append-only for the application role and posted_at is always
    # "now"; the test, as the database owner and outside any tenant transaction,
    # moves one posting into last month as if it had been posted then.
    LedgerEntry.unscoped.filter(pk=entry.pk).update(posted_at=when)


def _membership(ws: Workspace, user: User) -> Membership:
    with workspace_context(ws):
        m = membership_for(workspace=ws, user=user)
    assert m is not None
    return m


def _figures(ws: Workspace, user: User, name: str, **extra):
    m = _membership(ws, user)
    with workspace_context(ws, user_id=user.pk):
        return getattr(dashboard, name)(workspace=ws, membership=m, today=dashboard.workspace_today(ws), **extra)


@dataclass
class Book:
    ws: Workspace
    sahyadri: Client
    konkan: Client
    agent: User
    today: date
    last_month_posted: datetime
    debts: dict[str, Debt]


@pytest.fixture
def book(world) -> Book:
    """Six debts of two clients, payments this month and last, a reversal, a kept and
    a broken promise. Amounts in paise (INR minor units)."""
    ws = world.a
    today = dashboard.workspace_today(ws)
    agent = add_member(ws, "agent@example.com", Role.AGENT)
    with workspace_context(ws):
        sahyadri = clients_list(workspace=ws).get(reference="SAHYADRI")  # 15% commission
        konkan = client_create(workspace=ws, name="Konkan Finance", reference="KONKAN", commission_rate_bps=1000)
    d = {
        "S1": _debt(ws, sahyadri, "S1", 100_000, today - timedelta(days=10), agent),
        "S2": _debt(ws, sahyadri, "S2", 200_000, today - timedelta(days=45)),
        "K3": _debt(ws, konkan, "K3", 50_000, today - timedelta(days=100), agent),
        "K4": _debt(ws, konkan, "K4", 80_000, today - timedelta(days=400)),
        "S5": _debt(ws, sahyadri, "S5", 40_000, today + timedelta(days=20)),
        "K6": _debt(ws, konkan, "K6", 30_000, None),
    }
    _pay(ws, d["S1"], 10_105)  # commission 1515.75 → 1515
    last = (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    last_month_posted = datetime(last.year, last.month, last.day, 12, tzinfo=ZoneInfo(ws.timezone))
    _backdate(_pay(ws, d["S2"], 30_000), last_month_posted)
    _pay(ws, d["K3"], 5_000)
    mistaken = _pay(ws, d["K3"], 2_000)
    with workspace_context(ws):
        entry_reverse(entry=LedgerEntry.objects.for_workspace(ws).get(pk=mistaken.pk), memo="posted twice")
        promise_create(debt=d["S5"], amount_minor=4_000, due_on=today)
    _pay(ws, d["S5"], 4_005)  # keeps the promise; commission 600.75 → 600
    with workspace_context(ws):
        promise_create(debt=d["K6"], amount_minor=1_000, due_on=today)
        promises_evaluate(workspace_id=ws.pk, today=today + timedelta(days=1))  # nothing paid: broken
    return Book(ws, sahyadri, konkan, agent, today, last_month_posted, d)


def _client_user(ws: Workspace, client: Client, email: str = "treasury@sahyadri.example") -> User:
    user = User.objects.create_user(email=email, password=PASSWORD)
    with workspace_context(ws):
        membership_add(workspace=ws, user=user, role=Role.AUDITOR, client=client)
    return user


# --- Figures ---------------------------------------------------------------------


def test_overview_collections_and_recovery_rate(book, world):
    o = _figures(book.ws, world.alice, "overview")
    assert o["collected_this_month"] == 10_105 + 5_000 + 4_005  # the reversed 2,000 does not count
    assert o["collected_last_month"] == 30_000
    assert o["collected_to_date"] == 49_110
    assert o["placed"] == 500_000
    assert o["debts"] == 6 and o["open_debts"] == 6
    assert o["outstanding"] == 500_000 - 49_110
    assert o["payments_this_month"] == 4  # the reversed one was a payment too
    assert o["recovery_bps"] == 982  # 49,110 / 500,000 = 9.822%
    assert formatting.format_bps(o["recovery_bps"]) == "9.8%"


def test_aging_buckets_counts_and_amounts(book, world):
    buckets = {b["key"]: (b["count"], b["amount"]) for b in _figures(book.ws, world.alice, "aging_buckets")["buckets"]}
    assert buckets == {
        "0-30": (2, (100_000 - 10_105) + (40_000 - 4_005)),  # 10 days past due, and not yet due
        "31-60": (1, 170_000),
        "61-90": (0, 0),
        "91-180": (1, 45_000),
        "180+": (1, 80_000),
        "none": (1, 30_000),
    }


def test_aging_bucket_boundaries(world):
    ws = world.a
    today = dashboard.workspace_today(ws)
    with workspace_context(ws):
        client = clients_list(workspace=ws).get(reference="SAHYADRI")
    for days in (30, 31, 60, 61, 90, 91, 180, 181):
        _debt(ws, client, f"B{days}", 1_000 + days, today - timedelta(days=days))
    found = {b["key"]: b["amount"] for b in _figures(ws, world.alice, "aging_buckets")["buckets"]}
    assert found == {
        "0-30": 1_030,
        "31-60": 1_031 + 1_060,
        "61-90": 1_061 + 1_090,
        "91-180": 1_091 + 1_180,
        "180+": 1_181,
    }


def test_collections_by_day_cover_thirty_days_ending_today(book, world):
    by_day = _figures(book.ws, world.alice, "collections_by_day")
    days = by_day["days"]
    assert len(days) == 30 and days[-1]["date"] == book.today and days[0]["date"] == book.today - timedelta(days=29)
    assert days[-1]["amount"] == 19_110 and days[-1]["payments"] == 4
    in_window = book.last_month_posted.date() >= book.today - timedelta(days=29)
    assert by_day["total"] == 19_110 + (30_000 if in_window else 0)


def test_liquidation_by_client_and_promises(book, world):
    clients = {c["name"]: c for c in _figures(book.ws, world.alice, "clients_liquidation")["clients"]}
    assert clients["Sahyadri Bank"]["placed"] == 340_000 and clients["Sahyadri Bank"]["collected"] == 44_110
    assert clients["Sahyadri Bank"]["liquidation_bps"] == 1297
    assert clients["Konkan Finance"]["placed"] == 160_000 and clients["Konkan Finance"]["collected"] == 5_000
    assert clients["Konkan Finance"]["liquidation_bps"] == 313  # 3.125% rounded half up
    promises = _figures(book.ws, world.alice, "promise_outcomes")
    assert (promises["kept"], promises["broken"], promises["pending"]) == (1, 1, 0)
    assert promises["keep_rate_bps"] == 5000


def test_leaderboard_ranks_agents_by_collections_this_month(book, world):
    board = _figures(book.ws, world.alice, "agent_leaderboard")
    assert [(a["email"], a["collected_this_month"], a["open_debts"]) for a in board["agents"]] == [
        ("agent@example.com", 15_105, 2)
    ]


def test_an_agent_sees_only_figures_of_debts_assigned_to_them(book):
    o = _figures(book.ws, book.agent, "overview")
    assert o["placed"] == 150_000 and o["collected_this_month"] == 15_105 and o["collected_last_month"] == 0
    buckets = {b["key"]: b["count"] for b in _figures(book.ws, book.agent, "aging_buckets")["buckets"]}
    assert buckets == {"0-30": 1, "31-60": 0, "61-90": 0, "91-180": 1, "180+": 0}
    assert {c["name"] for c in _figures(book.ws, book.agent, "clients_liquidation")["clients"]} == {
        "Sahyadri Bank",
        "Konkan Finance",
    }
    assert _figures(book.ws, book.agent, "agent_leaderboard") is None


def test_figures_are_cached_briefly_per_membership(book, world):
    first = _figures(book.ws, world.alice, "overview")
    _pay(book.ws, book.debts["K4"], 1_000)
    assert _figures(book.ws, world.alice, "overview") == first  # within the 60 s TTL
    assert _figures(book.ws, book.agent, "overview")["placed"] == 150_000  # another scope, another key
    cache.clear()
    assert _figures(book.ws, world.alice, "overview")["collected_this_month"] == first["collected_this_month"] + 1_000


# --- Dashboard page ------------------------------------------------------------------


def test_dashboard_page_has_charts_with_tables_and_the_leaderboard(book, world):
    r = login(world.alice).get("/w/acme/")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count('role="img"') == 5
    assert html.count("<summary>Show the numbers</summary>") == 5
    assert "Agent leaderboard" in html and "agent@example.com" in html
    assert "9.8%" in html and "191.10" in html  # recovery rate; collected this month
    assert "style=" not in html  # CSP: no inline styles
    assert "Person S1" not in html and "@debtor.example" not in html


def test_agent_dashboard_has_no_leaderboard(book):
    r = login(book.agent).get("/w/acme/")
    assert r.status_code == 200
    assert r.context["leaderboard"] is None
    assert "Agent leaderboard" not in r.content.decode()
    assert r.context["overview"]["collected_this_month"] == 15_105


def test_auditors_see_the_dashboard(book):
    auditor = add_member(book.ws, "audra@example.com", Role.AUDITOR)
    r = login(auditor).get("/w/acme/")
    assert r.status_code == 200
    assert r.context["overview"]["placed"] == 500_000
    assert r.context["leaderboard"] is not None


def test_empty_workspace_shows_how_to_place_debts(world):
    r = login(world.alice).get("/w/acme/")
    html = r.content.decode()
    assert r.status_code == 200 and "<svg" not in html
    assert (
        "No debts placed yet" in html
        and "/api/v1/" in html
        and "import_placements" in html
        and "Placement file" in html
    )


def test_agent_without_assignments_is_told_so(book):
    newcomer = add_member(book.ws, "new.agent@example.com", Role.AGENT)
    html = login(newcomer).get("/w/acme/").content.decode()
    assert "No debts assigned to you yet" in html and "<svg" not in html


def test_dashboard_query_count_does_not_grow_with_debts(world):
    ws = world.a
    agent = add_member(ws, "agent@example.com", Role.AGENT)
    with workspace_context(ws):
        client = clients_list(workspace=ws).get(reference="SAHYADRI")
    today = dashboard.workspace_today(ws)

    def place(start: int, end: int) -> None:
        for i in range(start, end):
            debt = _debt(ws, client, f"Q{i}", 10_000 + i, today - timedelta(days=i * 7), agent if i % 2 else None)
            if i % 3 == 0:
                _pay(ws, debt, 500 + i)

    http = login(world.alice)
    http.get("/w/acme/")  # a session's first request also records the session (allauth usersessions)

    def queries() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as ctx:
            r = http.get("/w/acme/")
        assert r.status_code == 200 and r.context["overview"]["debts"] > 0
        return len(ctx.captured_queries)

    place(0, 5)
    with_5 = queries()
    place(5, 50)
    with_50 = queries()
    assert with_50 == with_5, f"{with_5} queries for 5 debts, {with_50} for 50"


def test_other_workspace_gets_404(book, world):
    bob = login(world.bob)
    for url in (
        "/w/acme/",
        "/w/acme/portal/",
        f"/w/acme/portal/?client={book.sahyadri.pk}",
        f"/w/acme/portal/statement.csv?client={book.sahyadri.pk}",
    ):
        assert bob.get(url).status_code == 404, url
    assert login(world.charlie).get("/w/acme/").status_code == 404


# --- Client portal ------------------------------------------------------------------


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_client_user_is_sent_from_the_dashboard_to_the_portal(book):
    user = _client_user(book.ws, book.sahyadri)
    r = login(user).get("/w/acme/")
    assert r.status_code == 302 and r["Location"] == "/w/acme/portal/"


def test_client_user_sees_only_their_clients_numbers(book):
    http = login(_client_user(book.ws, book.sahyadri))
    r = http.get("/w/acme/portal/")
    assert r.status_code == 200
    f = r.context["figures"]
    assert f["client"]["name"] == "Sahyadri Bank" and f["debts"] == 3 and f["placed"] == 340_000
    assert f["totals"]["this_month"] == {"collected": 14_110, "commission": 1_515 + 600, "net": 14_110 - 2_115}
    assert f["totals"]["last_month"] == {"collected": 30_000, "commission": 4_500, "net": 25_500}
    assert f["totals"]["to_date"] == {"collected": 44_110, "commission": 6_615, "net": 37_495}
    # S5 got a promise: working it started collection (new → active), and keeping it left it active.
    assert {s["status"]: s["count"] for s in f["statuses"]} == {"new": 2, "active": 1}
    html = r.content.decode()
    assert "Konkan" not in html and "Person S1" not in html and "@debtor.example" not in html
    assert "Download statement (CSV)" in html
    assert http.get(f"/w/acme/portal/?client={book.konkan.pk}").status_code == 404
    assert http.get(f"/w/acme/portal/statement.csv?client={book.konkan.pk}").status_code == 404


def test_statement_csv_lists_the_months_payments_without_personal_data(book):
    user = _client_user(book.ws, book.sahyadri)
    http = login(user)
    r = http.get(f"/w/acme/portal/statement.csv?month={book.today:%Y-%m}")
    assert r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    body_rows = _csv(r)
    assert [(row["debt_reference"], row["amount"], row["commission"], row["net"]) for row in body_rows] == [
        ("S1", "101.05", "15.15", "85.90"),
        ("S5", "40.05", "6.00", "34.05"),
    ]
    assert all(row["date"] == book.today.isoformat() and row["kind"] == "payment" for row in body_rows)
    # The lines add up to the portal's figures for the month.
    assert sum(int(row["commission"].replace(".", "")) for row in body_rows) == 2_115
    last = _csv(http.get(f"/w/acme/portal/statement.csv?month={book.last_month_posted:%Y-%m}"))
    assert [(row["date"], row["debt_reference"], row["net"]) for row in last] == [
        (book.last_month_posted.date().isoformat(), "S2", "255.00")
    ]
    raw = b"".join(http.get(f"/w/acme/portal/statement.csv?month={book.today:%Y-%m}").streaming_content).decode()
    assert "Person" not in raw and "@" not in raw and "K3" not in raw


def test_statement_includes_refunds_and_reversals_as_negative_lines(book, world):
    # Konkan's 2,000 payment was reversed: both lines appear and cancel out.
    rows = _csv(
        login(world.alice).get(f"/w/acme/portal/statement.csv?client={book.konkan.pk}&month={book.today:%Y-%m}")
    )
    assert [(r["kind"], r["amount"], r["commission"]) for r in rows] == [
        ("payment", "50.00", "5.00"),
        ("payment", "20.00", "2.00"),
        ("reversal", "-20.00", "-2.00"),
    ]


def _foreign_debt(ws: Workspace, client: Client, ref: str, amount: int, currency: str) -> Debt:
    with workspace_context(ws):
        debtor = debtor_create(workspace=ws, data=DebtorInput(full_name=f"Person {ref}"))
        return debt_create(
            workspace=ws,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=ref, original_amount_minor=amount, currency=currency),
        )


def test_debts_in_other_currencies_are_reported_apart_never_added_in(book, world):
    before = {name: _figures(book.ws, world.alice, name) for name in ("overview", "aging_buckets")}
    _pay(book.ws, _foreign_debt(book.ws, book.sahyadri, "J1", 90_000, "JPY"), 1_234)  # ¥1,234
    _foreign_debt(book.ws, book.sahyadri, "J2", 10_000, "JPY")
    _foreign_debt(book.ws, book.konkan, "U1", 25_000, "USD")
    cache.clear()
    after = {name: _figures(book.ws, world.alice, name) for name in ("overview", "aging_buckets")}
    assert after == before  # the INR figures are exactly what they were
    assert _figures(book.ws, world.alice, "other_currencies") == [
        {"currency": "JPY", "debts": 2, "outstanding": 98_766},
        {"currency": "USD", "debts": 1, "outstanding": 25_000},
    ]
    html = login(world.alice).get("/w/acme/").content.decode()
    assert "2 debts in JPY (98,766 JPY outstanding); 1 debt in USD (250.00 USD outstanding)" in html

    # A client's portal leaves out the other client's currencies; its statement lists
    # every payment, each in the debt's own currency.
    portal = login(_client_user(book.ws, book.sahyadri)).get("/w/acme/portal/")
    assert "2 debts in JPY" in portal.content.decode() and "USD" not in portal.content.decode()
    assert portal.context["figures"]["totals"]["this_month"]["collected"] == 14_110
    rows = _csv(
        login(world.alice).get(f"/w/acme/portal/statement.csv?client={book.sahyadri.pk}&month={book.today:%Y-%m}")
    )
    assert [(r["debt_reference"], r["amount"], r["commission"], r["currency"]) for r in rows] == [
        ("S1", "101.05", "15.15", "INR"),
        ("S5", "40.05", "6.00", "INR"),
        ("J1", "1234", "185", "JPY"),
    ]


def test_the_dashboard_of_a_workspace_in_one_currency_has_no_currency_note(book, world):
    assert _figures(book.ws, world.alice, "other_currencies") == []
    assert 'data-testid="other-currencies"' not in login(world.alice).get("/w/acme/").content.decode()


def test_statement_download_is_audited(book):
    user = _client_user(book.ws, book.sahyadri)
    r = login(user).get("/w/acme/portal/statement.csv?month=2020-01")
    assert _csv(r) == []
    with workspace_context(book.ws):
        event = AuditEvent.objects.filter(action="statement.downloaded").get()
    assert event.actor_user_id == user.pk and event.object_id == str(book.sahyadri.pk)
    assert event.metadata == {"client_id": str(book.sahyadri.pk), "month": "2020-01"}


def test_statement_month_must_be_valid(book):
    http = login(_client_user(book.ws, book.sahyadri))
    for bad in ("2026-13", "26-01", "yesterday", "2026-1"):
        assert http.get(f"/w/acme/portal/statement.csv?month={bad}").status_code == 400, bad
    with workspace_context(book.ws):
        assert not AuditEvent.objects.filter(action="statement.downloaded").exists()


def test_portal_access_for_staff(book, world):
    alice = login(world.alice)
    r = alice.get("/w/acme/portal/")
    assert r.status_code == 200 and "Konkan Finance" in r.content.decode() and "Sahyadri Bank" in r.content.decode()
    r = alice.get(f"/w/acme/portal/?client={book.konkan.pk}")
    assert r.status_code == 200 and r.context["figures"]["totals"]["to_date"]["collected"] == 5_000
    assert alice.get("/w/acme/portal/?client=not-a-uuid").status_code == 404
    assert alice.get("/w/acme/portal/statement.csv").status_code == 404  # staff must pick a client
    agent = login(book.agent)
    assert agent.get("/w/acme/portal/").status_code == 403
    assert agent.get(f"/w/acme/portal/statement.csv?client={book.sahyadri.pk}").status_code == 403


# --- Charts --------------------------------------------------------------------------


def test_charts_are_accessible_svg_and_escape_text():
    evil = '<script>alert("x")</script>'
    svgs = [
        bar_chart(chart_id="c1", title=evil, desc=evil, bars=[Bar(evil, 5, evil), Bar("b", 0, "0")]),
        grouped_bars(
            chart_id="c2", title=evil, desc=evil, series=[evil, "b"], groups=[Group(evil, [1, 2], [evil, "2"])]
        ),
        horizontal_bars(chart_id="c3", title=evil, desc=evil, bars=[Bar(evil, -3, evil)]),
        horizontal_bars(chart_id="c4", title="empty", desc="nothing", bars=[]),
    ]
    for svg in svgs:
        assert svg.startswith("<svg") and 'role="img"' in svg and svg.endswith("</svg>")
        assert "<title id=" in svg and "<desc id=" in svg and "aria-labelledby=" in svg
        assert "<script>" not in svg and "style=" not in svg


def test_money_and_rate_formatting():
    assert formatting.money(12_345_600, "INR") == "123,456.00"
    assert formatting.money(-100_000, "INR") == "-1,000.00"
    assert formatting.money(1_234_567, "JPY") == "1,234,567"
    assert formatting.rate_bps(1, 3) == 3333 and formatting.rate_bps(1, 0) is None
    assert formatting.format_bps(982) == "9.8%" and formatting.format_bps(None) == "—"
    assert formatting.commission_minor(10_105, 1500) == 1515 and formatting.commission_minor(-10_105, 1500) == -1515
