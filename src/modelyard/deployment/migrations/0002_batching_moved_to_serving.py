from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('deployment', '0001_initial'),
        ('serving', '0002_batching_from_gate'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='gatesettings',
            name='max_batch_size',
        ),
        migrations.RemoveField(
            model_name='gatesettings',
            name='max_wait_ms',
        ),
    ]
