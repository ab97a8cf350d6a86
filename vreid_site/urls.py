import django_rq.urls
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from vreid_site.security import login_view, superusers_only

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="gallery:list", permanent=False)),
    path("accounts/login/", login_view, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("gallery/", include("gallery.urls")),
    path("searches/", include("searches.urls")),
    path("footage/", include("searches.footage.urls")),
    path("admin/rq/", include((superusers_only(django_rq.urls.urlpatterns), "django_rq"))),
    path("admin/", admin.site.urls),
]
