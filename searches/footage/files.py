"""The user's footage: each stored file with its camera and recording start, editable."""
from django.contrib import messages
from django.db.models import F
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import ListView, UpdateView

from gallery.views import OwnedMixin
from searches.footage.forms import FootageForm
from searches.footage.models import Footage


class FootageListView(OwnedMixin, ListView):
    model = Footage
    template_name = "footage/file_list.html"
    paginate_by = 50

    def get_queryset(self):
        # Newest recordings first, files of unknown time after them (NULLs sort apart per database).
        return (super().get_queryset().select_related("camera")
                .order_by(F("recorded_at").desc(nulls_last=True), "-pk"))


class FootageEditView(OwnedMixin, UpdateView):
    model = Footage
    form_class = FootageForm
    template_name = "footage/file_form.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Saved the camera and recording time of {self.object}.")
        return response

    def get_success_url(self):
        back = self.request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(back, {self.request.get_host()}, self.request.is_secure()):
            return back
        return reverse("footage:files")
