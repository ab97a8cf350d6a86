import hashlib

from django.db import migrations, models


def fill_digests(apps, schema_editor):
    VehiclePhoto = apps.get_model("gallery", "VehiclePhoto")
    batch = []
    for photo in VehiclePhoto.objects.only("pk", "embedding").iterator(chunk_size=1000):
        photo.vector_digest = hashlib.sha1(bytes(photo.embedding)).hexdigest()[:16]
        batch.append(photo)
        if len(batch) == 1000:
            VehiclePhoto.objects.bulk_update(batch, ["vector_digest"])
            batch = []
    VehiclePhoto.objects.bulk_update(batch, ["vector_digest"])


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="vehiclephoto",
            name="vector_digest",
            field=models.CharField(blank=True, editable=False, max_length=16),
        ),
        migrations.RunPython(fill_digests, migrations.RunPython.noop),
    ]
