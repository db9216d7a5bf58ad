from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.jurisdictions import PROFILES
from accounts.models import Workspace
from accounts.services import workspace_create
from kernel.context import request_info


def one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a workspace and its owner. Changes nothing if any argument is invalid."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="URL name, e.g. acme-collections")
        parser.add_argument("--name", required=True, help="Display name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--password", help="Owner's password (required if the owner is a new user)")
        parser.add_argument(
            "--jurisdiction", default="IN", choices=sorted(PROFILES), help="Jurisdiction profile (default IN)"
        )
        parser.add_argument("--currency", help="ISO 4217 (default: the jurisdiction's)")
        parser.add_argument("--timezone", help="IANA zone (default: the jurisdiction's)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if Workspace.objects.filter(slug=opts["slug"]).exists():
            raise CommandError(f"A workspace with slug {opts['slug']!r} already exists.")
        try:
            with request_info(source="cli"):
                ws = workspace_create(
                    slug=opts["slug"],
                    name=opts["name"],
                    owner_email=opts["owner_email"],
                    owner_password=opts["password"],
                    jurisdiction=opts["jurisdiction"],
                    currency=opts["currency"],
                    timezone_name=opts["timezone"],
                )
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created workspace {ws.slug} ({ws.name}), owner {opts['owner_email']}"))
