"""Command.run: a command given as a command line instead of a function."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0005_capacity_generation")]

    operations = [
        migrations.AddField(
            model_name="command",
            name="run",
            field=models.JSONField(
                blank=True, default=list, help_text="A command line, for a command given as a CLI."
            ),
        ),
    ]
