
import django.db.models.deletion
import django.utils.timezone
import kernel.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('debtors', '0011_communication_moved_to_communications'),
        ('accounts', '0003_client_moves_here'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='PlacementImport',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('file_name', models.CharField(max_length=200)),
                    ('storage_name', models.CharField(max_length=200)),
                    ('strict', models.BooleanField(default=False)),
                    ('header_map', models.JSONField(blank=True, default=dict)),
                    ('status', models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='pending', max_length=8)),
                    ('total_rows', models.PositiveIntegerField(blank=True, null=True)),
                    ('processed_rows', models.PositiveIntegerField(default=0)),
                    ('created_count', models.PositiveIntegerField(default=0)),
                    ('updated_count', models.PositiveIntegerField(default=0)),
                    ('unchanged_count', models.PositiveIntegerField(default=0)),
                    ('rejected_count', models.PositiveIntegerField(default=0)),
                    ('rejects_storage_name', models.CharField(blank=True, default='', max_length=200)),
                    ('rejects_purged_at', models.DateTimeField(blank=True, null=True)),
                    ('error', models.CharField(blank=True, default='', max_length=500)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('started_at', models.DateTimeField(blank=True, null=True)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('client', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='accounts.client')),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                ],
                options={
                    'db_table': 'debtors_placementimport',
                    'indexes': [models.Index(fields=['workspace', '-created_at'], name='debtors_pla_workspa_a70a27_idx')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
