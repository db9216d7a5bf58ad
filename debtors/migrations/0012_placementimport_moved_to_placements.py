
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('placements', '0001_moved_from_debtors'),
        ('debtors', '0011_communication_moved_to_communications'),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.DeleteModel(
                name='PlacementImport',
            ),
            ],
            database_operations=[],
        ),
    ]
