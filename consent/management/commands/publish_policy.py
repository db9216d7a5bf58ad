"""Publish a new version of a policy or notice from a text file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from consent.models import PolicyKind
from consent.services import policy_publish
from kernel.context import request_info


class Command(BaseCommand):
    help = (
        "Publish a new version of a policy or notice (the text is hashed and the publication audited). "
        "--material makes signed-in users accept it again and notifies debtors with an email address."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=PolicyKind.values)
        parser.add_argument("version", help="e.g. 2026-12")
        parser.add_argument("file", help="the policy text (UTF-8; Markdown or plain text)")
        parser.add_argument("--effective", help="when it takes effect, ISO 8601 (default: now)")
        parser.add_argument("--material", action="store_true", help="a material change")

    def handle(self, *args: Any, **opts: Any) -> None:
        path = Path(opts["file"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}.") from exc
        effective = None
        if opts["effective"]:
            try:
                effective = datetime.fromisoformat(opts["effective"])
            except ValueError as exc:
                raise CommandError(f"--effective: not an ISO 8601 date and time ({opts['effective']!r}).") from exc
            if timezone.is_naive(effective):
                effective = timezone.make_aware(effective)
        with request_info(source="cli"):
            try:
                policy = policy_publish(
                    kind=opts["kind"],
                    version=opts["version"],
                    text=text,
                    effective_at=effective,
                    material_change=opts["material"],
                )
            except ValidationError as exc:
                raise CommandError(" ".join(" ".join(m) for m in exc.message_dict.values())) from exc
        self.stdout.write(
            f"Published {policy.get_kind_display()} {policy.version}, effective {policy.effective_at:%Y-%m-%d %H:%M %Z}"
            f" (sha256 {policy.text_hash[:12]}…){'; material change: users re-accept, debtors notified' if policy.material_change else ''}."
        )
