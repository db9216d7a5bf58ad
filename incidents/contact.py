"""Whom a notice tells people to contact, and whom an authority report names: the
workspace's privacy contact (DPO, information or grievance officer).

``privacy_requests`` keeps it (``PrivacyContact``), and incidents may not import that
app (the two stand side by side). The shell, which sees every app, gives the register
its source in ``ShellConfig.ready()`` with ``set_contact_source``; without one,
``contact_point`` fails loudly rather than send notices that name no one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accounts.models import Workspace


@dataclass(frozen=True)
class ContactPoint:
    name: str
    email: str
    phone: str

    @property
    def usable(self) -> bool:
        """A person can reach it: an email address or a phone number."""
        return bool(self.email.strip() or self.phone.strip())

    @property
    def line(self) -> str:
        return ", ".join(v.strip() for v in (self.name, self.email, self.phone) if v.strip())


ContactSource = Callable[[Workspace], ContactPoint | None]
_source: list[ContactSource] = []


def set_contact_source(source: ContactSource) -> None:
    """``source(workspace)`` -> the workspace's privacy contact, or None when none is
    set. Setting it again replaces it."""
    _source[:] = [source]


def contact_point(workspace: Workspace) -> ContactPoint | None:
    """The workspace's privacy contact (None when the workspace has not set one)."""
    if not _source:
        raise RuntimeError(
            "No privacy contact source is registered: install the collectpro shell app, which gives the "
            "breach register the privacy_requests app's contact (incidents.contact.set_contact_source)."
        )
    return _source[0](workspace)
