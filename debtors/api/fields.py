from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from debtors.services.money import MoneyError, from_minor, to_minor


@extend_schema_field({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "1250.00"})
class MoneyField(serializers.Field):  # type: ignore[type-arg]
    """A decimal string in the API ("1250.00"), integer minor units inside.

    The currency comes from ``currency_source``: a key in the incoming data, or the
    serializer context's ``currency``."""

    default_error_messages = {"invalid": 'Enter an amount as a decimal string, e.g. "1250.00".'}

    def __init__(self, *, allow_negative: bool = False, allow_zero: bool = False, **kwargs: Any):
        self.allow_negative = allow_negative
        self.allow_zero = allow_zero
        super().__init__(**kwargs)

    def _currency(self) -> str:
        ctx_currency = self.context.get("currency")
        if ctx_currency:
            return str(ctx_currency)
        initial = getattr(self.parent, "initial_data", {}) or {}
        return str(initial.get("currency") or self.context.get("default_currency") or "").upper()

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, float | bool) or data is None:
            self.fail("invalid")
        try:
            Decimal(str(data))
        except InvalidOperation:
            self.fail("invalid")
        try:
            minor = to_minor(str(data), self._currency())
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from None
        if minor < 0 and not self.allow_negative:
            raise serializers.ValidationError("The amount must not be negative.")
        if minor == 0 and not self.allow_zero:
            raise serializers.ValidationError("The amount must not be zero.")
        return minor

    def to_representation(self, value: int) -> str:
        return from_minor(value, self._currency())


@extend_schema_field(OpenApiTypes.STR)
class MinorAsDecimal(serializers.Field):  # type: ignore[type-arg]
    """Read-only: an object's ``<field>_minor`` rendered in the object's currency."""

    def __init__(self, minor_attr: str, currency_attr: str = "currency", **kwargs: Any):
        self.minor_attr = minor_attr
        self.currency_attr = currency_attr
        kwargs["source"] = "*"
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, obj: Any) -> str:
        currency = obj
        for part in self.currency_attr.split("."):
            currency = getattr(currency, part)
        return from_minor(getattr(obj, self.minor_attr), str(currency))
