"""Permissions, their grants and admin history follow the models that moved into
this app (kernel.migration_ops.move_content_type, ADR 0015)."""

from django.db import migrations

from kernel.migration_ops import move_content_type


class Migration(migrations.Migration):
    dependencies = [
        ("placements", "0001_moved_from_debtors"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(move_content_type("debtors", "placements", "placementimport"), migrations.RunPython.noop),
    ]
