import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('registry', '0004_version_input_example'),
    ]

    operations = [
        migrations.CreateModel(
            name='ServingSettings',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('max_batch_size', models.PositiveIntegerField(default=32, help_text='Rows per micro-batch; 1 turns batching off.')),
                ('max_wait_ms', models.FloatField(default=0.0, help_text='How long a batch may wait for more requests.')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('asset', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='serving_settings', to='registry.asset')),
            ],
            options={
                'verbose_name': 'serving settings',
                'verbose_name_plural': 'serving settings',
            },
        ),
    ]
