"""Delete stored files with their rows (after the transaction commits: gallery/file_cleanup.py;
a re-run shares its files with the original job); a job
saved or deleted, or a hit of it, makes its progress snapshot stale (searches.progress_cache:
lifecycle's UPDATEs say so themselves)."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from gallery.file_cleanup import delete_when_unused
from searches.models import Footage, Hit, SearchFile, SearchJob, Sighting
from searches.progress_cache import changed


@receiver(post_save, sender=SearchJob)
@receiver(post_delete, sender=SearchJob)
def job_changed(sender, instance, **kwargs):
    changed(instance.pk)


@receiver(post_save, sender=Hit)
@receiver(post_delete, sender=Hit)
def hit_changed(sender, instance, **kwargs):
    changed(instance.job_id)


@receiver(post_delete, sender=SearchFile)
def delete_search_file(sender, instance, **kwargs):
    delete_when_unused(instance.file, (SearchFile, "file"))
    # The last search of a stored file is gone, so is the file: its sightings go with it.
    if instance.file.name and not SearchFile.objects.filter(file=instance.file.name).exists():
        for footage in Footage.objects.filter(file=instance.file.name):
            footage.delete()


@receiver(post_delete, sender=Sighting)
def delete_sighting_thumbnail(sender, instance, **kwargs):
    delete_when_unused(instance.thumbnail, (Sighting, "thumbnail"))


@receiver(post_delete, sender=Hit)
def delete_hit_thumbnail(sender, instance, **kwargs):
    delete_when_unused(instance.thumbnail, (Hit, "thumbnail"))
