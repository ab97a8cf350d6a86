"""Delete stored files with their rows; a re-run shares its files with the original job."""
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.signals import delete_if_unused
from searches.models import Hit, SearchFile


@receiver(post_delete, sender=SearchFile)
def delete_search_file(sender, instance, **kwargs):
    delete_if_unused(instance.file, (SearchFile.objects, "file"))


@receiver(post_delete, sender=Hit)
def delete_hit_thumbnail(sender, instance, **kwargs):
    delete_if_unused(instance.thumbnail, (Hit.objects, "thumbnail"))
