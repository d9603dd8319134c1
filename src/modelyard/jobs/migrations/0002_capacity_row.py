from django.db import migrations


def create_row(apps, schema_editor):
    apps.get_model("jobs", "Capacity").objects.get_or_create(name="runs")


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]

    operations = [migrations.RunPython(create_row, migrations.RunPython.noop)]
