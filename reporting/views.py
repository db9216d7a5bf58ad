"""The workspace dashboard and the client portal (figures from ``reporting.dashboard``
and ``reporting.portal``, charts from ``reporting.charts``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.models import Client, Membership, Workspace
from accounts.roles import can
from accounts.selectors import client_get, clients_list
from kernel.csv_stream import csv_line_writer
from kernel.tenancy import workspace_context
from kernel.tenancy.decorators import workspace_view
from reporting import dashboard as figures
from reporting import portal
from reporting.charts import Bar, Group, bar_chart, grouped_bars, horizontal_bars
from reporting.formatting import format_bps, money, rate_bps
from reporting.panels import dashboard_panels
from reporting.queries import workspace_today
from reporting.services import statement_download_record

STATEMENT_HEADER = ["date", "debt_reference", "kind", "amount", "commission", "net", "currency"]


def _chart(
    chart_id: str, title: str, svg: str, columns: list[str], rows: list[list[str]], note: str = ""
) -> dict[str, Any]:
    """What ``debtors/_chart.html`` renders: the SVG, then the same numbers as a table."""
    return {"id": chart_id, "title": title, "svg": svg, "columns": columns, "rows": rows, "note": note}


def _change(now: int, before: int) -> str:
    if before <= 0:
        return "—"
    bps = rate_bps(now - before, before)
    return ("+" if bps is not None and bps > 0 else "") + format_bps(bps)


def _compare_chart(o: dict[str, Any]) -> dict[str, Any]:
    cur = o["currency"]
    day = o["same_day"]
    last, this = o["last_month_label"], o["this_month_label"]
    same_days = f"Days 1–{day}"
    groups = [
        Group(
            same_days,
            [o["collected_last_month_to_date"], o["collected_this_month"]],
            [money(o["collected_last_month_to_date"], cur), money(o["collected_this_month"], cur)],
        ),
        Group(
            "Whole month (this month so far)",
            [o["collected_last_month"], o["collected_this_month"]],
            [money(o["collected_last_month"], cur), money(o["collected_this_month"], cur)],
        ),
    ]
    svg = grouped_bars(
        chart_id="chart-compare",
        title=f"Collected in {this} compared with {last}",
        desc=f"{cur}: {this} so far {money(o['collected_this_month'], cur)}; {last} over the same days {money(o['collected_last_month_to_date'], cur)}, whole month {money(o['collected_last_month'], cur)}.",
        series=[last, this],
        groups=groups,
    )
    rows = [
        [
            same_days,
            money(o["collected_last_month_to_date"], cur),
            money(o["collected_this_month"], cur),
            _change(o["collected_this_month"], o["collected_last_month_to_date"]),
        ],
        ["Whole month", money(o["collected_last_month"], cur), money(o["collected_this_month"], cur) + " (so far)", ""],
    ]
    return _chart(
        "compare", "This month vs last", svg, ["Period", f"{last} ({cur})", f"{this} ({cur})", "Change"], rows
    )


def _by_day_chart(d: dict[str, Any]) -> dict[str, Any]:
    cur = d["currency"]
    days = d["days"]
    bars = [
        Bar(f"{x['date'].day} {x['date']:%b}", x["amount"], money(x["amount"], cur), x["date"].strftime("%a %d %b %Y"))
        for x in days
    ]
    svg = bar_chart(
        chart_id="chart-by-day",
        title=f"Collections by day, last {len(days)} days",
        desc=f"Net amount collected each day in {cur}, from {days[0]['date']:%d %b} to {days[-1]['date']:%d %b %Y}; total {money(d['total'], cur)}.",
        bars=bars,
        label_every=5,
    )
    rows = [[x["date"].strftime("%a %d %b %Y"), money(x["amount"], cur), str(x["payments"])] for x in reversed(days)]
    return _chart(
        "by-day", f"Collections by day (last {len(days)} days)", svg, ["Date", f"Collected ({cur})", "Payments"], rows
    )


def _aging_chart(a: dict[str, Any]) -> dict[str, Any]:
    cur = a["currency"]
    plural = {True: "debt", False: "debts"}
    bars = [
        Bar(b["label"], b["amount"], f"{money(b['amount'], cur)} · {b['count']} {plural[b['count'] == 1]}")
        for b in a["buckets"]
    ]
    svg = horizontal_bars(
        chart_id="chart-aging",
        title="Aging of open balances",
        desc=f"Outstanding balance of open debts in {cur} by days past the due date; total {money(a['total'], cur)}.",
        bars=bars,
    )
    rows = [[b["label"], str(b["count"]), money(b["amount"], cur)] for b in a["buckets"]]
    return _chart("aging", "Aging buckets", svg, ["Days past due", "Debts", f"Outstanding ({cur})"], rows)


def _clients_chart(c: dict[str, Any]) -> dict[str, Any]:
    cur = c["currency"]
    bars = [
        Bar(x["name"], x["liquidation_bps"] or 0, format_bps(x["liquidation_bps"]), x["name"]) for x in c["clients"]
    ]
    svg = horizontal_bars(
        chart_id="chart-clients",
        title="Liquidation rate by client",
        desc="Amount collected to date as a share of the amount placed, per client.",
        bars=bars,
    )
    rows = [
        [
            x["name"],
            str(x["debts"]),
            money(x["placed"], cur),
            money(x["collected"], cur),
            money(x["outstanding"], cur),
            format_bps(x["liquidation_bps"]),
        ]
        for x in c["clients"]
    ]
    note = (
        f"The {len(c['clients'])} largest of {c['client_count']} clients by amount placed."
        if c["client_count"] > len(c["clients"])
        else ""
    )
    columns = ["Client", "Debts", f"Placed ({cur})", f"Collected ({cur})", f"Outstanding ({cur})", "Liquidation"]
    return _chart("clients", "Recovery by client", svg, columns, rows, note)


def _promises_chart(p: dict[str, Any]) -> dict[str, Any]:
    outcomes = [("Kept", p["kept"]), ("Broken", p["broken"]), ("Pending", p["pending"])]
    svg = horizontal_bars(
        chart_id="chart-promises",
        title="Promises to pay: kept vs broken",
        desc=f"{p['kept']} kept, {p['broken']} broken, {p['pending']} pending; keep rate {format_bps(p['keep_rate_bps'])}.",
        bars=[Bar(label, n, str(n)) for label, n in outcomes],
    )
    rows = [[label, str(n)] for label, n in outcomes] + [
        ["Keep rate (kept ÷ kept and broken)", format_bps(p["keep_rate_bps"])]
    ]
    return _chart("promises", "Promises kept vs broken", svg, ["Outcome", "Promises"], rows)


def _leaderboard_rows(board: dict[str, Any]) -> list[dict[str, Any]]:
    cur = board["currency"]
    return [
        {
            "rank": i,
            "name": a["name"],
            "collected": money(a["collected_this_month"], cur),
            "payments": a["payments_this_month"],
            "open_debts": a["open_debts"],
            "outstanding": money(a["outstanding"], cur),
        }
        for i, a in enumerate(board["agents"], start=1)
    ]


def _other_currencies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "outstanding_text": money(r["outstanding"], r["currency"])} for r in rows]


def _panels(workspace: Workspace, membership: Membership) -> list[dict[str, Any]]:
    """The registered panels this member sees (reporting.panels), in order."""
    now = timezone.now()
    shown = []
    for panel in dashboard_panels():
        context = panel.build(workspace=workspace, membership=membership, now=now)
        if context is not None:
            shown.append({"name": panel.name, "template": panel.template, "context": context})
    return shown


@workspace_view()
def dashboard(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    if membership.client_id is not None:
        return redirect("client_portal", workspace_slug=workspace.slug)
    today = workspace_today(workspace)
    context: dict[str, Any] = {
        "today": today,
        "currency": workspace.currency,
        "can_view_all": can(membership, "debts.view_all"),
        "panels": _panels(workspace, membership),
    }
    if not figures.has_visible_debts(workspace=workspace, membership=membership):
        context["empty"] = True
        # Whoever sees every debt sees none only when nothing was placed; an agent may
        # simply have nothing assigned yet.
        context["workspace_empty"] = context["can_view_all"] or not figures.workspace_has_debts(workspace=workspace)
        return render(request, "debtors/dashboard.html", context)
    args: dict[str, Any] = {"workspace": workspace, "membership": membership, "today": today}
    overview = figures.overview(**args)
    promises = figures.promise_outcomes(**args)
    board = figures.agent_leaderboard(**args)
    cur = workspace.currency
    context.update(
        overview=overview,
        kpis={
            "collected": money(overview["collected_this_month"], cur),
            "change": _change(overview["collected_this_month"], overview["collected_last_month_to_date"]),
            "last_same_days": money(overview["collected_last_month_to_date"], cur),
            "recovery": format_bps(overview["recovery_bps"]),
            "collected_to_date": money(overview["collected_to_date"], cur),
            "placed": money(overview["placed"], cur),
            "outstanding": money(overview["outstanding"], cur),
            "keep_rate": format_bps(promises["keep_rate_bps"]),
        },
        charts=[
            _compare_chart(overview),
            _by_day_chart(figures.collections_by_day(**args)),
            _aging_chart(figures.aging_buckets(**args)),
            _clients_chart(figures.clients_liquidation(**args)),
            _promises_chart(promises),
        ],
        promises=promises,
        leaderboard=_leaderboard_rows(board) if board is not None else None,
        leaderboard_more=board["agent_count"] - len(board["agents"]) if board is not None else 0,
        other_currencies=_other_currencies(figures.other_currencies(**args)),
    )
    return render(request, "debtors/dashboard.html", context)


# --- Client portal --------------------------------------------------------------


def _portal_client(request: HttpRequest, workspace: Workspace, membership: Membership) -> Client | None:
    """The client whose portal is shown: a client user's own (asking for another is
    a 404); for staff with ``debts.view_all`` the one picked with ``?client=``;
    anyone else may not open the portal."""
    wanted = request.GET.get("client", "")
    if membership.client_id is None and not can(membership, "debts.view_all"):
        raise PermissionDenied
    if membership.client_id is not None:
        wanted = wanted or str(membership.client_id)
    if not wanted:
        return None
    try:
        client_id = uuid.UUID(wanted)
    except ValueError:
        raise Http404("No such client") from None
    scope = membership.client if membership.client_id is not None else None
    return client_get(workspace=workspace, client_id=client_id, client_scope=scope)


def _portal_context(membership: Membership, client: Client, data: dict[str, Any]) -> dict[str, Any]:
    cur = data["currency"]
    totals = {
        name: {key: money(value, cur) for key, value in amounts.items()} for name, amounts in data["totals"].items()
    }
    months = list(reversed(data["months"]))
    svg = bar_chart(
        chart_id="chart-portal-months",
        title=f"Collections for {client.name} by month",
        desc=f"Amount collected each month in {cur} over the last {len(months)} months.",
        bars=[
            Bar(f"{m['month']:%b %y}", m["collected"], money(m["collected"], cur), f"{m['month']:%B %Y}")
            for m in data["months"]
        ],
    )
    chart = _chart(
        "portal-months",
        "Collections by month",
        svg,
        ["Month", f"Collected ({cur})", f"Commission ({cur})", f"Net remittance ({cur})"],
        [
            [f"{m['month']:%B %Y}", money(m["collected"], cur), money(m["commission"], cur), money(m["net"], cur)]
            for m in months
        ],
    )
    return {
        "client": client,
        "figures": data,
        "totals": totals,
        "statuses": [{**s, "balance_text": money(s["balance"], cur)} for s in data["statuses"]],
        "placed": money(data["placed"], cur),
        "outstanding": money(data["outstanding"], cur),
        "commission_rate": format_bps(client.commission_rate_bps),
        "chart": chart,
        "statement_months": [m["month"] for m in months],
        "client_query": "" if membership.client_id is not None else f"client={client.pk}&",
    }


@workspace_view()
def client_portal(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    client = _portal_client(request, workspace, membership)
    today = workspace_today(workspace)
    context: dict[str, Any] = {
        "today": today,
        "currency": workspace.currency,
        "is_client_user": membership.client_id is not None,
    }
    if client is None:
        context["clients"] = clients_list(workspace=workspace)
        return render(request, "debtors/portal_overview.html", context)
    data = portal.client_portal(workspace=workspace, membership=membership, client=client, today=today)
    context.update(_portal_context(membership, client, data))
    context["other_currencies"] = _other_currencies(
        figures.other_currencies(workspace=workspace, membership=membership, today=today, client=client)
    )
    return render(request, "debtors/portal_overview.html", context)


_MONTH = re.compile(r"(\d{4})-(\d{2})")


def _parse_month(value: str, today: date) -> date | None:
    if not value:
        return today.replace(day=1)
    match = _MONTH.fullmatch(value)
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 2100:
        return None
    return date(int(match[1]), int(match[2]), 1)


@workspace_view()
def client_statement(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponseBase:
    """A month's collections for one client as CSV (date, debt reference, kind,
    amount, commission, net) — no debtor names or contact details. Streamed; the
    download is audited before the first byte."""
    client = _portal_client(request, workspace, membership)
    if client is None:
        raise Http404("Choose a client")
    month = _parse_month(request.GET.get("month", ""), workspace_today(workspace))
    if month is None:
        return HttpResponseBadRequest("month must be YYYY-MM", content_type="text/plain")
    statement_download_record(workspace=workspace, client=client, month=month)
    tz = ZoneInfo(workspace.timezone)
    user_id = membership.user_id

    def lines() -> Iterator[str]:
        writer = csv_line_writer()
        yield writer.writerow(STATEMENT_HEADER)
        # The stream is consumed after the request's tenant transaction has ended,
        # so it reads the ledger in a tenant context of its own, a chunk at a time.
        with workspace_context(workspace, user_id=user_id):
            entries = portal.statement_entries(workspace=workspace, membership=membership, client=client, month=month)
            for entry in entries.iterator(chunk_size=2000):
                yield writer.writerow(portal.statement_line(entry, bps=client.commission_rate_bps, tz=tz))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    safe_ref = re.sub(r"[^A-Za-z0-9_-]+", "-", client.reference).strip("-") or "client"
    response["Content-Disposition"] = f'attachment; filename="statement-{safe_ref}-{month:%Y-%m}.csv"'
    response["Cache-Control"] = "no-store"
    return response
