"""The debt page is assembled from parts that other apps register.

``debtors`` stands below consent, communications and payments, so it cannot
import them to draw their sections of the debt page or to run their quick
actions. Instead each of them registers, in its ``AppConfig.ready()``:

- a **panel**: a template included in the debt panel, and a function that builds
  its context (or returns None to hide it from this member);
- a **quick action**: a form and the service call behind it, posted to
  ``/w/<slug>/debts/<id>/actions/<name>/`` like the debt's own actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# build(workspace=, membership=, debt=, **options) -> context for the template, or None to hide it
PanelBuilder = Callable[..., Any]
# run(form, debt, user) -> whatever the service returns; raises ValidationError or ActionRefused
ActionRunner = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class DebtPanel:
    name: str  # the key its page options arrive under (e.g. "consent")
    context_name: str  # the template variable the panel's template reads
    template: str
    build: PanelBuilder
    order: int = 100


@dataclass(frozen=True)
class DebtAction:
    name: str
    form_class: type[Any]
    run: ActionRunner
    done: str  # the message shown when it worked
    after: str = ""  # shown right after this action of the debt page's own ("" = last)


_panels: dict[str, DebtPanel] = {}
_actions: dict[str, DebtAction] = {}


def register_debt_panel(panel: DebtPanel) -> None:
    _panels[panel.name] = panel


def register_debt_action(action: DebtAction) -> None:
    _actions[action.name] = action


def debt_panels() -> list[DebtPanel]:
    return sorted(_panels.values(), key=lambda p: (p.order, p.name))


def debt_actions() -> dict[str, DebtAction]:
    return dict(_actions)
