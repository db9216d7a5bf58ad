"""Money: integer minor units + ISO 4217 code. The API speaks decimal strings.

No floats anywhere: amounts are parsed with ``Decimal`` and must not have more
decimals than the currency's exponent (250.001 INR is an error, not a rounding).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents for the currencies CollectPro's jurisdictions use,
# plus common ones. A currency missing here is refused rather than guessed.
EXPONENTS: dict[str, int] = {
    "INR": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "ZAR": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "SGD": 2,
    "AED": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BGN": 2,
    "HKD": 2,
    "MXN": 2,
    "BRL": 2,
    "NGN": 2,
    "KES": 2,
    "BWP": 2,
    "NAD": 2,
    "LKR": 2,
    "PKR": 2,
    "BDT": 2,
    "NPR": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "UGX": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
}


class MoneyError(ValueError):
    pass


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency.upper()]
    except KeyError:
        raise MoneyError(f"Unsupported currency {currency!r} (ISO 4217 code expected).") from None


def to_minor(amount: str | Decimal | int, currency: str) -> int:
    """'1250.00' INR → 125000. Refuses floats, NaN, too many decimals."""
    if isinstance(amount, float):
        raise MoneyError("Amounts must be decimal strings, not floats.")
    exp = exponent(currency)
    try:
        value = Decimal(str(amount).strip().replace(",", ""))
    except InvalidOperation:
        raise MoneyError(f"{amount!r} is not a number.") from None
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a number.")
    scaled = value.scaleb(exp)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{currency} amounts have at most {exp} decimal places.")
    return int(scaled)


def from_minor(minor: int, currency: str) -> str:
    """125000 INR → '1250.00'."""
    exp = exponent(currency)
    return f"{Decimal(minor).scaleb(-exp):.{exp}f}"
