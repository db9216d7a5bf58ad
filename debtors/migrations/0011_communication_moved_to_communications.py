
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('communications', '0001_moved_from_debtors_and_consent'),
        ('debtors', '0010_client_moved_to_accounts'),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.DeleteModel(
                name='Communication',
            ),
            ],
            database_operations=[],
        ),
    ]
