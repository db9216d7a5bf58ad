"""Data-migration steps shared by the apps' migrations.

``move_content_type`` follows a model that moved to another app in Django's state
only (ADR 0015): its content type's permissions — with the users and groups they
were granted to — and its admin history entries move to the model's new content
type, and the old content type goes. Without it, staff granted "can change
client" would lose the admin page and a client's history page would be empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings


def move_content_type(old_app: str, new_app: str, model: str) -> Callable[[Any, Any], None]:
    def forwards(apps: Any, schema_editor: Any) -> None:
        content_types = apps.get_model("contenttypes", "ContentType")
        permissions = apps.get_model("auth", "Permission")
        log_entries = apps.get_model("admin", "LogEntry")
        user_grants = apps.get_model(settings.AUTH_USER_MODEL).user_permissions.through
        group_grants = apps.get_model("auth", "Group").permissions.through
        old = content_types.objects.filter(app_label=old_app, model=model).first()
        if old is None:
            return
        new, _ = content_types.objects.get_or_create(app_label=new_app, model=model)
        for permission in permissions.objects.filter(content_type=old):
            twin = permissions.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            # Both exist (a migrate already created the new one): move the grants over.
            for grants, owner in ((user_grants, "user_id"), (group_grants, "group_id")):
                for grant in grants.objects.filter(permission=permission):
                    if not grants.objects.filter(**{owner: getattr(grant, owner)}, permission=twin).exists():
                        grants.objects.create(**{owner: getattr(grant, owner)}, permission=twin)
            permission.delete()
        log_entries.objects.filter(content_type=old).update(content_type=new)
        old.delete()

    return forwards
