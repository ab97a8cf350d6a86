from django.core.files.storage import default_storage
from django.db import migrations, models

import searches.models


def stored_size(name: str) -> int:
    try:
        return default_storage.size(name) if name else 0
    except OSError:  # the file is gone
        return 0


def fill_sizes(apps, schema_editor):
    """Existing rows: the sizes of their stored files, for the storage quota."""
    SearchFile = apps.get_model("searches", "SearchFile")
    batch = []
    for row in SearchFile.objects.exclude(file="").only("pk", "file").iterator(chunk_size=1000):
        row.stored_bytes = stored_size(row.file.name)
        batch.append(row)
    SearchFile.objects.bulk_update(batch, ["stored_bytes"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('searches', '0006_models_used_attributes_near_misses'),
    ]

    operations = [
        migrations.AddField(
            model_name='searchfile',
            name='stored_bytes',
            field=models.PositiveBigIntegerField(default=0, editable=False),
        ),
        migrations.AlterField(
            model_name='searchfile',
            name='file',
            field=models.FileField(blank=True, db_index=True, max_length=400, upload_to=searches.models.job_file_upload_to),
        ),
        migrations.RunPython(fill_sizes, migrations.RunPython.noop),
    ]
