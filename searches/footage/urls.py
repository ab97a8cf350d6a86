"""URLs of the footage index (mounted at /footage/, namespace "footage")."""
from django.urls import path  # noqa: F401  (the rooms below use it)

app_name = "footage"
urlpatterns: list = []
# Each room adds its own patterns below (explore, sightings and similar, journey, cameras and files,
# searches over the index).
