"""The dashboard's breach clocks (registered in IncidentsConfig.ready on
``reporting.panels``): the duties still owed of open incidents with their countdowns,
shown only to the members who must act (``incidents.manage``: owners, admins and the
privacy contact), and only while there is something to act on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from accounts.models import Membership, Workspace
from accounts.roles import can
from incidents.selectors import open_duty_clocks


def dashboard_breach_clocks(*, workspace: Workspace, membership: Membership, now: datetime) -> dict[str, Any] | None:
    if not can(membership, "incidents.manage"):
        return None
    found = open_duty_clocks(workspace=workspace, now=now)
    if not found["total"]:
        return None
    return {**found, "late": any(c.state == "late" for c in found["clocks"])}
