from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Workspace
from accounts.selectors import client_get_by_reference
from accounts.services import api_key_create
from kernel.context import request_info
from kernel.tenancy import workspace_context


class Command(BaseCommand):
    help = "Create an API key for a workspace (optionally scoped to one client). Prints the key alone on its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--client", help="Client reference: the key then sees only that client's debts")
        parser.add_argument("--name", default="CLI key")

    def handle(self, *args: Any, **opts: Any) -> None:
        workspace = Workspace.objects.filter(slug=opts["slug"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {opts['slug']!r}.")
        with request_info(source="cli"), workspace_context(workspace):
            client = None
            if opts["client"]:
                client = client_get_by_reference(workspace=workspace, reference=opts["client"])
                if client is None:
                    raise CommandError(f"No client with reference {opts['client']!r} in {workspace.slug}.")
            issued = api_key_create(workspace=workspace, name=opts["name"], client=client)
        self.stderr.write(f"Created key {issued.api_key.prefix}… ({issued.api_key.name}); it is shown only once:")
        self.stdout.write(issued.secret)
