"""Delete stored files when their rows go, unless another row still points at the same file."""
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.models import NegativeExample, PendingPhoto, VehiclePhoto


def delete_if_unused(fieldfile, *querysets) -> None:
    name = fieldfile.name
    if not name:
        return
    if any(qs.filter(**{field: name}).exists() for qs, field in querysets):
        return
    fieldfile.storage.delete(name)


@receiver(post_delete, sender=VehiclePhoto)
def delete_photo_files(sender, instance, **kwargs):
    delete_if_unused(instance.image, (VehiclePhoto.objects, "image"), (PendingPhoto.objects, "image"))
    delete_if_unused(instance.crop, (VehiclePhoto.objects, "crop"))


@receiver(post_delete, sender=PendingPhoto)
def delete_pending_files(sender, instance, **kwargs):
    delete_if_unused(instance.image, (VehiclePhoto.objects, "image"), (PendingPhoto.objects, "image"))


@receiver(post_delete, sender=NegativeExample)
def delete_negative_files(sender, instance, **kwargs):
    delete_if_unused(instance.thumbnail, (NegativeExample.objects, "thumbnail"))
