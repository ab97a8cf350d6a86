"""Delete stored files when their rows go, unless another row still points at the same file
(after the transaction commits: gallery/file_cleanup.py)."""
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.file_cleanup import delete_when_unused
from gallery.models import NegativeExample, PendingPhoto, VehiclePhoto


@receiver(post_delete, sender=VehiclePhoto)
def delete_photo_files(sender, instance, **kwargs):
    delete_when_unused(instance.image, (VehiclePhoto, "image"), (PendingPhoto, "image"))
    delete_when_unused(instance.crop, (VehiclePhoto, "crop"))


@receiver(post_delete, sender=PendingPhoto)
def delete_pending_files(sender, instance, **kwargs):
    delete_when_unused(instance.image, (VehiclePhoto, "image"), (PendingPhoto, "image"))


@receiver(post_delete, sender=NegativeExample)
def delete_negative_files(sender, instance, **kwargs):
    delete_when_unused(instance.thumbnail, (NegativeExample, "thumbnail"))
