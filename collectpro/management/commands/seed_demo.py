from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import User, Workspace
from accounts.roles import Role
from accounts.selectors import client_get_by_reference, membership_for
from accounts.services import client_create, membership_add, workspace_create
from collectpro.demo_seed import seed_portfolio
from kernel.context import request_info
from kernel.tenancy import workspace_context

DEMO_PASSWORD = "collectpro-demo-2026"  # noqa: S105  (public demo login, printed on purpose)

WORKSPACES = [
    {
        "slug": "acme-collections",
        "name": "Acme Collections (Mumbai)",
        "jurisdiction": "IN",
        "owner": "owner@acme.example",
        "members": [
            ("manager@acme.example", Role.MANAGER),
            ("agent@acme.example", Role.AGENT),
            ("auditor@acme.example", Role.AUDITOR),
        ],
        "clients": [("Sahyadri Bank", "SAHYADRI", 1500), ("Konkan Telecom", "KONKAN", 2000)],
    },
    {
        "slug": "liberty-recovery",
        "name": "Liberty Recovery (Austin, TX)",
        "jurisdiction": "US",
        "owner": "owner@liberty.example",
        "members": [("agent@liberty.example", Role.AGENT)],
        "clients": [("Lone Star Credit Union", "LSCU", 1800)],
    },
]


class Command(BaseCommand):
    help = "Create the two demo workspaces with members and clients (idempotent) and print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD, help="Password for every demo user")
        parser.add_argument(
            "--accounts",
            type=int,
            default=2000,
            help="Debts in the first demo workspace (the second gets 60%%; default 2000; 0 for none)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        password = opts["password"]
        with request_info(source="cli"):
            for spec in WORKSPACES:
                self._seed(spec, password)
            if opts["accounts"]:
                for n, spec in enumerate(WORKSPACES):
                    ws = Workspace.objects.get(slug=spec["slug"])
                    count = opts["accounts"] if n == 0 else max(1, opts["accounts"] * 3 // 5)
                    self.stderr.write(f"Seeding {count} accounts into {ws.slug} (once)…")
                    seed_portfolio(
                        workspace=ws,
                        client_refs=[str(ref) for _, ref, _ in spec["clients"]],
                        count=count,
                        seed=n + 1,
                        progress=self.stderr.write,
                    )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo ready. Sign in at /accounts/login/ with any of:"))
        for spec in WORKSPACES:
            self.stdout.write(f"  {spec['name']}:")
            self.stdout.write(f"    {spec['owner']:<28} owner")
            for email, role in spec["members"]:
                self.stdout.write(f"    {email:<28} {role}")
        self.stdout.write(f"  Password for all: {password}")

    @transaction.atomic
    def _seed(self, spec: dict[str, Any], password: str) -> None:
        ws = Workspace.objects.filter(slug=spec["slug"]).first()
        if ws is None:
            ws = workspace_create(
                slug=spec["slug"],
                name=spec["name"],
                owner_email=spec["owner"],
                owner_password=password,
                jurisdiction=spec["jurisdiction"],
            )
        with workspace_context(ws):
            for email, role in spec["members"]:
                user = User.objects.filter(email=email).first() or User.objects.create_user(
                    email=email, password=password
                )
                if not ws_has_member(ws, user):
                    membership_add(workspace=ws, user=user, role=role)
            for name, ref, bps in spec["clients"]:
                if client_get_by_reference(workspace=ws, reference=ref) is None:
                    client_create(workspace=ws, name=name, reference=ref, commission_rate_bps=bps)


def ws_has_member(ws: Workspace, user: User) -> bool:
    return membership_for(workspace=ws, user=user) is not None
