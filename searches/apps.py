from django.apps import AppConfig


class SearchesConfig(AppConfig):
    name = "searches"
    verbose_name = "Search jobs"

    def ready(self):
        from searches import signals  # noqa: F401  (deletes media files with their rows)
