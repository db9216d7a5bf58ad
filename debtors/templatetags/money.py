from __future__ import annotations

from django import template

from debtors.services.money import MoneyError, from_minor

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    """{{ debt.balance_minor|money:debt.currency }} → "1,250.00"."""
    if minor is None:
        return "—"
    try:
        text = from_minor(int(minor), currency)
    except MoneyError:
        return str(minor)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")
