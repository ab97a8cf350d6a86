from django.core.files.storage import default_storage
from django.db import migrations, models


def stored_size(name: str) -> int:
    try:
        return default_storage.size(name) if name else 0
    except OSError:  # the file is gone
        return 0


def fill_sizes(apps, schema_editor):
    """Existing rows: the sizes of their stored files, for the storage quota."""
    for model, fields in (("VehiclePhoto", ("image", "crop")), ("PendingPhoto", ("image",))):
        Model = apps.get_model("gallery", model)
        batch = []
        for row in Model.objects.only("pk", *fields).iterator(chunk_size=1000):
            row.stored_bytes = sum(stored_size(getattr(row, field).name) for field in fields)
            batch.append(row)
        Model.objects.bulk_update(batch, ["stored_bytes"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('gallery', '0003_attributes_and_negative_examples'),
    ]

    operations = [
        migrations.AddField(
            model_name='pendingphoto',
            name='stored_bytes',
            field=models.PositiveBigIntegerField(default=0, editable=False, help_text='for the quota'),
        ),
        migrations.AddField(
            model_name='vehiclephoto',
            name='stored_bytes',
            field=models.PositiveBigIntegerField(default=0, editable=False, help_text='image + crop, for the quota'),
        ),
        migrations.RunPython(fill_sizes, migrations.RunPython.noop),
    ]
