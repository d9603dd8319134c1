"""Listener: an index of the commands' triggers, so an event finds its listeners by key."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def index_existing(apps: Any, schema_editor: Any) -> None:
    from modelyard.jobs.events import listener_keys

    command_model = apps.get_model("jobs", "Command")
    listener_model = apps.get_model("jobs", "Listener")
    rows = []
    for command in command_model.objects.exclude(triggers=[]).select_related("project__team"):
        team = command.project.team.name
        keys = set().union(*(listener_keys(t, team) for t in command.triggers))
        rows += [listener_model(command=command, key=key) for key in sorted(keys)]
    listener_model.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_command_args")]

    operations = [
        migrations.CreateModel(
            name="Listener",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(help_text="`event`, or `event key=value`.", max_length=255),
                ),
                (
                    "command",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="listeners",
                        to="jobs.command",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["key"], name="listener_key")],
                "constraints": [
                    models.UniqueConstraint(fields=("command", "key"), name="listener_unique")
                ],
            },
        ),
        migrations.RunPython(index_existing, migrations.RunPython.noop),
    ]
