
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
import kernel.crypto.fields
import kernel.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('debtors', '0009_communication_sending'),
        ('accounts', '0002_initial'),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Client',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('name', models.CharField(max_length=200)),
                    ('reference', models.CharField(help_text='Unique within the workspace', max_length=64)),
                    ('commission_rate_bps', models.PositiveIntegerField(default=0, help_text='Commission in basis points (1500 = 15%)', validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(10000)])),
                    ('remittance_details', kernel.crypto.fields.EncryptedField(blank=True, help_text='Bank account for remittances (encrypted)', normaliser='text', null=True, subject='workspace', subject_type='workspace')),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                ],
                options={
                    'db_table': 'debtors_client',
                    'ordering': ['name'],
                },
            ),
            migrations.AlterField(
                model_name='apikey',
                name='client',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.client'),
            ),
            migrations.AlterField(
                model_name='membership',
                name='client',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.client'),
            ),
            migrations.AddConstraint(
                model_name='client',
                constraint=models.UniqueConstraint(fields=('workspace', 'reference'), name='client_unique_reference'),
            ),
            ],
            database_operations=[],
        ),
    ]
