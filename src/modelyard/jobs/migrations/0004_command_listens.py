"""Command.listens: its triggers' event names, so an event finds its listeners in SQL."""

from typing import Any

from django.db import migrations, models


def fill(apps: Any, schema_editor: Any) -> None:
    from modelyard.jobs.models import listens_to

    command_model = apps.get_model("jobs", "Command")
    for command in command_model.objects.exclude(triggers=[]):
        command.listens = listens_to(command.triggers)
        command.save(update_fields=["listens"])


class Migration(migrations.Migration):
    dependencies = [("jobs", "0003_command_args")]

    operations = [
        migrations.AddField(
            model_name="command",
            name="listens",
            field=models.CharField(
                blank=True, editable=False, help_text="Its triggers' event names.", max_length=2000
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
