from django.urls import path

from searches import views

app_name = "searches"
urlpatterns = [
    path("", views.JobListView.as_view(), name="list"),
    path("new/", views.JobCreateView.as_view(), name="create"),
    path("<int:pk>/", views.JobDetailView.as_view(), name="detail"),
    path("<int:pk>/progress/", views.JobProgressView.as_view(), name="progress"),
    path("<int:pk>/timeline/", views.JobTimelineView.as_view(), name="timeline"),
    path("<int:pk>/rerun/", views.JobRerunView.as_view(), name="rerun"),
    path("<int:pk>/delete/", views.JobDeleteView.as_view(), name="delete"),
    path("<int:pk>/<str:action>/", views.JobActionView.as_view(), name="action"),
    path("<int:pk>/hits.csv", views.export_csv, name="export_csv"),
    path("<int:pk>/hits.json", views.export_json, name="export_json"),
    path("<int:job_pk>/hits/<int:pk>/", views.HitDetailView.as_view(), name="hit"),
    path("<int:job_pk>/hits/<int:pk>/confirm/", views.HitConfirmView.as_view(), name="hit_confirm"),
    path("<int:job_pk>/hits/<int:pk>/reject/", views.HitRejectView.as_view(), name="hit_reject"),
    path("files/<int:pk>/", views.search_file, name="file"),
    path("hits/<int:pk>/thumbnail.jpg", views.hit_thumbnail, name="hit_thumbnail"),
]
