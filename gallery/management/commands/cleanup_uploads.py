from django.core.management.base import BaseCommand

from gallery.cleanup import delete_abandoned_uploads


class Command(BaseCommand):
    help = "Delete registration uploads whose vehicle was never picked (older than VREID_PENDING_TTL_H)."

    def handle(self, *args, **options):
        self.stdout.write(f"deleted {delete_abandoned_uploads()} abandoned upload(s)")
