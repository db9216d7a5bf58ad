
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_client_moves_here'),
        ('debtors', '0009_communication_sending'),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.AlterField(
                model_name='debt',
                name='client',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='debts', to='accounts.client'),
            ),
            migrations.AlterField(
                model_name='placementimport',
                name='client',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.client'),
            ),
            migrations.DeleteModel(
                name='Client',
            ),
            ],
            database_operations=[],
        ),
    ]
