"""Sections of the dashboard that higher apps draw.

``reporting`` stands below the compliance apps, so it cannot import them to show,
say, the breach clocks of the people who must act. Each registers a **panel** in
its ``AppConfig.ready()``: a template included on the dashboard and a function that
builds its context for this member, or returns None to hide it (most members see
none of them). Panels show whether or not the workspace has debts yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# build(workspace=, membership=, now=) -> context for the template (as ``panel``), or None to hide it
DashboardPanelBuilder = Callable[..., Any]


@dataclass(frozen=True)
class DashboardPanel:
    name: str
    template: str
    build: DashboardPanelBuilder
    order: int = 100


_panels: dict[str, DashboardPanel] = {}


def register_dashboard_panel(panel: DashboardPanel) -> None:
    _panels[panel.name] = panel


def dashboard_panels() -> list[DashboardPanel]:
    return sorted(_panels.values(), key=lambda p: (p.order, p.name))
