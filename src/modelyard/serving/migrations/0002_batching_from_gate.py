"""The micro-batching settings move from the gate's row (deployment) to serving's own."""

from django.db import migrations


def carry_over(apps, schema_editor):
    GateSettings = apps.get_model('deployment', 'GateSettings')
    ServingSettings = apps.get_model('serving', 'ServingSettings')
    rows = GateSettings.objects.values_list('asset_id', 'max_batch_size', 'max_wait_ms')
    ServingSettings.objects.bulk_create(
        ServingSettings(asset_id=asset_id, max_batch_size=size, max_wait_ms=wait)
        for asset_id, size, wait in rows
    )


def carry_back(apps, schema_editor):
    GateSettings = apps.get_model('deployment', 'GateSettings')
    ServingSettings = apps.get_model('serving', 'ServingSettings')
    for row in ServingSettings.objects.all():
        GateSettings.objects.update_or_create(
            asset_id=row.asset_id,
            defaults={'max_batch_size': row.max_batch_size, 'max_wait_ms': row.max_wait_ms},
        )


class Migration(migrations.Migration):

    dependencies = [
        ('serving', '0001_initial'),
        ('deployment', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(carry_over, carry_back),
    ]
