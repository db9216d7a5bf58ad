
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('communications', '0001_moved_from_debtors_and_consent'),
        ('consent', '0003_visitorconsent'),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.RemoveField(
                model_name='messagetemplate',
                name='created_by',
            ),
            migrations.RemoveField(
                model_name='messagetemplate',
                name='workspace',
            ),
            migrations.RemoveField(
                model_name='sequence',
                name='workspace',
            ),
            migrations.DeleteModel(
                name='DebtSequence',
            ),
            migrations.DeleteModel(
                name='MessageTemplate',
            ),
            migrations.DeleteModel(
                name='Sequence',
            ),
            ],
            database_operations=[],
        ),
    ]
