"""Money, rates and commission as the figures show them. Integers only: amounts in
minor units, rates in basis points (1 bp = 0.01 %); never floats."""

from __future__ import annotations

from debtors.services.money import from_minor


def money(minor: int | None, currency: str) -> str:
    """12345600 INR → '123,456.00' (thousands grouped for reading; sign kept)."""
    text = from_minor(minor or 0, currency)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + dot + fraction


def rate_bps(part: int, whole: int) -> int | None:
    """``part / whole`` in basis points (integer, rounded half up); None if whole is 0."""
    if whole <= 0:
        return None
    return (part * 10_000 * 2 + whole) // (whole * 2)


def format_bps(bps: int | None) -> str:
    """1234 → '12.3%'; None → '—'."""
    if bps is None:
        return "—"
    sign = "-" if bps < 0 else ""
    tenths = (abs(bps) + 5) // 10
    return f"{sign}{tenths // 10}.{tenths % 10}%"


def commission_minor(collected_minor: int, bps: int) -> int:
    """The commission on one collected amount: ``amount × bps / 10000`` truncated
    towards zero, so a payment and its refund cancel exactly and the client is
    never over-charged. The SQL aggregates (``reporting.queries.entry_commission``)
    compute the same thing per entry (integer division truncates towards zero on
    PostgreSQL and SQLite), so a statement's lines add up to the portal's totals."""
    sign = -1 if collected_minor < 0 else 1
    return sign * (abs(collected_minor) * bps // 10_000)
