"""Capacity.generation: dispatch requests are counted on a row of their own, so dispatchers
never wait for each other's lock."""

from typing import Any

from django.db import migrations, models


def create_row(apps: Any, schema_editor: Any) -> None:
    apps.get_model("jobs", "Capacity").objects.get_or_create(name="dispatch-asked")


class Migration(migrations.Migration):
    dependencies = [("jobs", "0004_listener")]

    operations = [
        migrations.AddField(
            model_name="capacity", name="generation", field=models.BigIntegerField(default=0)
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
