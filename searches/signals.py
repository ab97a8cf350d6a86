"""Delete stored files with their rows (after the transaction commits: gallery/file_cleanup.py);
a re-run shares its files with the original job."""
from django.db.models.signals import post_delete
from django.dispatch import receiver

from gallery.file_cleanup import delete_when_unused
from searches.models import Hit, SearchFile


@receiver(post_delete, sender=SearchFile)
def delete_search_file(sender, instance, **kwargs):
    delete_when_unused(instance.file, (SearchFile, "file"))


@receiver(post_delete, sender=Hit)
def delete_hit_thumbnail(sender, instance, **kwargs):
    delete_when_unused(instance.thumbnail, (Hit, "thumbnail"))
