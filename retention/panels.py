"""What the retention app adds to other apps' pages (the debt page's holds panel).
Imported from ready(), which registers the panel."""

from __future__ import annotations

from typing import Any

from accounts.models import Membership, Workspace
from accounts.roles import can
from debtors.models import Debt
from debtors.panels import DebtPanel, register_debt_panel
from retention.forms import DebtHoldForm
from retention.selectors import holds_covering_debt


def debt_holds_panel(
    *, workspace: Workspace, membership: Membership, debt: Debt, form: DebtHoldForm | None = None
) -> dict[str, Any] | None:
    """The active holds that cover the debt (whatever their scope), so whoever works
    it knows why it is not contacted nor purged; and, for holds.manage, the form to
    hold this debt or its debtor. Hidden from client users, and from members who may
    not place holds when nothing is held."""
    if membership.client_id is not None:
        return None
    can_manage = can(membership, "holds.manage")
    held = holds_covering_debt(workspace=workspace, debt=debt)
    if not held and not can_manage:
        return None
    return {
        "holds": held,
        "can_manage": can_manage,
        "can_view": can(membership, "retention.view"),
        "form": (form or DebtHoldForm()) if can_manage else None,
    }


# After the privacy section (30): what keeps the data sits next to who asked to erase it.
register_debt_panel(DebtPanel("holds", "holds_panel", "retention/_debt_holds.html", debt_holds_panel, order=35))
