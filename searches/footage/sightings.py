"""A sighting's page, its thumbnail, and "Register as a vehicle" from it."""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import DetailView

from engine import api
from gallery.files import serve_fieldfile
from gallery.views import OwnedMixin, owned_or_viewable
from searches.footage.forms import RegisterSightingForm
from searches.footage.models import Sighting
from searches.footage.register import default_label, register_sighting
from searches.models import SearchFile


class SightingDetailView(OwnedMixin, DetailView):
    model = Sighting
    template_name = "footage/sighting_detail.html"

    def get_queryset(self):
        return super().get_queryset().select_related("footage", "camera").defer("embedding", "attributes")

    def get_context_data(self, **kwargs):
        sighting = self.object
        # The file plays through one of the searches that stored it (its owner's: searches:file checks).
        video = (SearchFile.objects.filter(footage=sighting.footage_id, job__owner=self.request.user)
                 .exclude(file="").order_by("-pk").only("pk").first())
        return {**super().get_context_data(**kwargs), "video": video, "label": default_label(sighting)}


def sighting_thumbnail(request, pk):
    # Only the file's name: a grid loads dozens of these, and a row's vector is 5 KB.
    # Staff with the view permission see it too (the admin's list shows it).
    sighting = owned_or_viewable(request.user, Sighting.objects.only("pk", "thumbnail"), pk, owner=request.user)
    return serve_fieldfile(request, sighting.thumbnail)


class SightingRegisterView(LoginRequiredMixin, View):
    """POST: a new vehicle from the sighting (its label from the form, or a default), then its page."""

    def post(self, request, pk):
        sighting = get_object_or_404(Sighting.objects.select_related("footage", "camera").defer("embedding"),
                                     pk=pk, owner=request.user)
        form = RegisterSightingForm(request.POST)
        label = form.cleaned_data["label"] if form.is_valid() else ""
        try:
            vehicle = register_sighting(sighting, label)
        except (api.EngineError, ValueError) as exc:
            messages.error(request, f"Could not register this vehicle: {exc}")
            return redirect(sighting)
        messages.success(request, f"Registered {vehicle.label}: search your footage for it, or add more photos.")
        return redirect(vehicle)
