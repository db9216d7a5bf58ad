
import django.db.models.deletion
import django.utils.timezone
import kernel.crypto.fields
import kernel.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0003_client_moves_here'),
        ('debtors', '0010_client_moved_to_accounts'),
        ('consent', '0003_visitorconsent'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The model moves between apps in Django's state only: its table, rows and
    # constraints stay exactly as they are (ADR 0015).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Sequence',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('name', models.CharField(max_length=100)),
                    ('steps', models.JSONField(default=list)),
                    ('is_active', models.BooleanField(default=True)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                ],
                options={
                    'db_table': 'consent_sequence',
                },
            ),
            migrations.CreateModel(
                name='Communication',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS'), ('call', 'Call'), ('whatsapp', 'WhatsApp'), ('letter', 'Letter')], max_length=10)),
                    ('direction', models.CharField(choices=[('outbound', 'Outbound'), ('inbound', 'Inbound')], default='outbound', max_length=8)),
                    ('status', models.CharField(choices=[('logged', 'Logged'), ('queued', 'Queued'), ('sending', 'Sending'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('bounced', 'Bounced'), ('failed', 'Failed'), ('refused', 'Refused by rules')], default='logged', max_length=12)),
                    ('outcome', models.CharField(blank=True, default='', max_length=32)),
                    ('content', kernel.crypto.fields.EncryptedField(blank=True, normaliser='text', null=True, subject='debtor_id', subject_type='debtor')),
                    ('refusal_reasons', models.JSONField(blank=True, default=list)),
                    ('template', models.CharField(blank=True, default='', max_length=100)),
                    ('provider_message_id', models.CharField(blank=True, default='', max_length=200)),
                    ('occurred_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('debt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='communications', to='debtors.debt')),
                    ('debtor', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='debtors.debtor')),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                ],
                options={
                    'db_table': 'debtors_communication',
                    'indexes': [models.Index(fields=['workspace', 'debt', 'occurred_at'], name='debtors_com_workspa_e57e5e_idx'), models.Index(fields=['workspace', 'provider_message_id'], name='debtors_com_workspa_167e01_idx')],
                },
            ),
            migrations.CreateModel(
                name='MessageTemplate',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('name', models.SlugField(max_length=60)),
                    ('channel', models.CharField(choices=[('email', 'Email'), ('sms', 'SMS'), ('whatsapp', 'WhatsApp'), ('letter', 'Letter')], max_length=10)),
                    ('language', models.CharField(default='en', max_length=8)),
                    ('version', models.PositiveIntegerField(default=1)),
                    ('subject', models.CharField(blank=True, default='', max_length=200)),
                    ('body', models.TextField()),
                    ('is_active', models.BooleanField(default=True)),
                    ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                ],
                options={
                    'db_table': 'consent_messagetemplate',
                    'indexes': [models.Index(fields=['workspace', 'name', 'channel', 'language', 'is_active'], name='consent_mes_workspa_29e6ea_idx')],
                    'constraints': [models.UniqueConstraint(fields=('workspace', 'name', 'channel', 'language', 'version'), name='message_template_version_unique')],
                },
            ),
            migrations.CreateModel(
                name='DebtSequence',
                fields=[
                    ('id', models.UUIDField(default=kernel.models.uuid7, editable=False, primary_key=True, serialize=False)),
                    ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ('next_step', models.PositiveSmallIntegerField(default=0)),
                    ('next_due_at', models.DateTimeField(blank=True, null=True)),
                    ('paused', models.BooleanField(default=False)),
                    ('finished_at', models.DateTimeField(blank=True, null=True)),
                    ('last_result', models.JSONField(blank=True, default=dict)),
                    ('debt', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='debtors.debt')),
                    ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.workspace')),
                    ('sequence', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrolments', to='communications.sequence')),
                ],
                options={
                    'db_table': 'consent_debtsequence',
                    'indexes': [models.Index(fields=['workspace', 'paused', 'finished_at', 'next_due_at'], name='consent_deb_workspa_95c373_idx')],
                    'constraints': [models.UniqueConstraint(fields=('workspace', 'debt', 'sequence'), name='debt_sequence_unique')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
