"""Shapes the kernel works with but does not own.

The kernel imports no app, so where it handles a workspace it names only what it
uses of one; ``accounts.Workspace`` satisfies this protocol."""

from __future__ import annotations

from typing import Protocol


class WorkspaceLike(Protocol):
    pk: int
    slug: str
    timezone: str
