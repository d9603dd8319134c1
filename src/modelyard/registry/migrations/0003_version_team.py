"""Copy each version's team from its asset, and index newest-first and per-team listings."""

import django.db.models.deletion
from django.db import migrations, models


def copy_team(apps, schema_editor):
    AssetVersion = apps.get_model("registry", "AssetVersion")
    Asset = apps.get_model("registry", "Asset")
    for asset_id, team_id in Asset.objects.values_list("id", "team_id").iterator():
        AssetVersion.objects.filter(asset_id=asset_id).update(team_id=team_id)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("registry", "0002_lifecycle_fields"),
    ]

    operations = [
        migrations.AddField(
            model_name="assetversion",
            name="team",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.team",
            ),
        ),
        migrations.RunPython(copy_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="assetversion",
            name="team",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.team",
            ),
        ),
        migrations.AddIndex(
            model_name="assetversion",
            index=models.Index(fields=["-registered_at", "id"], name="version_recent"),
        ),
        migrations.AddIndex(
            model_name="assetversion",
            index=models.Index(
                fields=["team", "-registered_at", "id"], name="version_team_recent"
            ),
        ),
        migrations.AddIndex(
            model_name="assetversion",
            index=models.Index(fields=["team", "last_accessed_at"], name="version_team_stale"),
        ),
    ]
