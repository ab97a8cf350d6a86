from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Vehicle gallery"

    def ready(self):
        from gallery import signals  # noqa: F401  (deletes media files with their rows)
