"""Delete stored files when their rows go, unless another row still points at the same file
(after the transaction commits: gallery/file_cleanup.py)."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gallery import listing
from gallery.file_cleanup import delete_when_unused
from gallery.models import NegativeExample, PendingPhoto, Vehicle, VehiclePhoto


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


@receiver([post_save, post_delete], sender=Vehicle)
def vehicle_listing_changed(sender, instance, **kwargs):
    listing.changed(instance.owner_id)


@receiver([post_save, post_delete], sender=VehiclePhoto)
def photo_listing_changed(sender, instance, **kwargs):
    # By query: in a vehicle's cascade the vehicle may be gone (its own signal covers that).
    owner_id = Vehicle.objects.filter(pk=instance.vehicle_id).values_list("owner_id", flat=True).first()
    if owner_id is not None:
        listing.changed(owner_id)
