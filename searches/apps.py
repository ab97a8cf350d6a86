from django.apps import AppConfig


class SearchesConfig(AppConfig):
    name = "searches"
    verbose_name = "Search jobs"

    def ready(self):
        from searches import checks, signals  # noqa: F401  (start-up checks; media files deleted with their rows)
