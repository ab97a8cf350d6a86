from django.urls import path

from gallery import views

app_name = "gallery"
urlpatterns = [
    path("", views.VehicleListView.as_view(), name="list"),
    path("register/", views.PhotoUploadView.as_view(), name="upload"),
    path("register/<int:pk>/", views.PickBoxView.as_view(), name="pick"),
    path("register/<int:pk>/image/", views.pending_file, name="pending_file"),
    path("vehicles/<int:pk>/", views.VehicleDetailView.as_view(), name="vehicle"),
    path("vehicles/<int:pk>/edit/", views.VehicleUpdateView.as_view(), name="vehicle_edit"),
    path("vehicles/<int:pk>/delete/", views.VehicleDeleteView.as_view(), name="vehicle_delete"),
    path("photos/<int:pk>/delete/", views.PhotoDeleteView.as_view(), name="photo_delete"),
    path("photos/<int:pk>/<str:kind>/", views.photo_file, name="photo_file"),
    path("negatives/<int:pk>/delete/", views.NegativeDeleteView.as_view(), name="negative_delete"),
    path("negatives/<int:pk>/image/", views.negative_file, name="negative_file"),
]
