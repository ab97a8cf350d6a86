"""URLs of the footage index (mounted at /footage/, namespace "footage")."""
from django.urls import path

from searches.footage import explore, files, journey, search, sightings, similar

app_name = "footage"
urlpatterns: list = [
    path("explore/", explore.ExploreView.as_view(), name="explore"),
    path("sightings/<int:pk>/", sightings.SightingDetailView.as_view(), name="sighting"),
    path("sightings/<int:pk>/thumbnail.jpg", sightings.sighting_thumbnail, name="sighting_thumbnail"),
    path("sightings/<int:pk>/similar/", similar.SimilarView.as_view(), name="similar"),
    path("sightings/<int:pk>/register/", sightings.SightingRegisterView.as_view(), name="register"),
    path("hits/<int:pk>/similar/", similar.SimilarToHitView.as_view(), name="similar_hit"),
    path("files/", files.FootageListView.as_view(), name="files"),
    path("files/<int:pk>/edit/", files.FootageEditView.as_view(), name="file_edit"),
    path("vehicles/<int:pk>/journey/", journey.JourneyView.as_view(), name="journey"),
    path("search/", search.FootageSearchView.as_view(), name="search"),
]
# Each room adds its own patterns below (explore, sightings and similar, journey, cameras and files,
# searches over the index).
