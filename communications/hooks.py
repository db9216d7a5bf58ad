"""What communications asks of the apps above it, registered in their ``AppConfig.ready()``.

A message template may carry ``{{ payment_link }}``; making one is the payments
app's work, and payments stands above communications. So payments registers its
link maker here, and a template that needs a link fails loudly without one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from accounts.types import Actor

_payment_link_maker: Callable[..., str] | None = None


def register_payment_link_maker(maker: Callable[..., str]) -> None:
    global _payment_link_maker
    _payment_link_maker = maker


def payment_link_for_message(*, debt: Any, actor: Actor = None) -> str:
    """A working payment link for a message about ``debt`` (payments.services)."""
    if _payment_link_maker is None:
        raise RuntimeError("No payment link maker registered: the payments app must be installed.")
    return _payment_link_maker(debt=debt, actor=actor)
