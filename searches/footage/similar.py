"""Find similar: the user's sightings nearest to a sighting's or a hit's vector, across all footage."""
import numpy as np
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404
from django.views.generic import TemplateView

from searches.footage.models import Sighting
from searches.footage.queries import similar_sightings
from searches.models import Hit

SHOWN = 48


class SimilarView(LoginRequiredMixin, TemplateView):
    """From a sighting (footage:similar) or a hit (footage:similar_hit): a grid, nearest first."""

    template_name = "footage/similar.html"

    def source(self):
        """(what the grid is near to, its vector, its embedder, sighting ids to leave out)."""
        sighting = get_object_or_404(Sighting.objects.select_related("footage", "camera"),
                                     pk=self.kwargs["pk"], owner=self.request.user)
        return sighting, sighting.vector, sighting.embedder, [sighting.pk]

    def get_context_data(self, **kwargs):
        source, vector, embedder, exclude = self.source()
        found = similar_sightings(self.request.user, vector, embedder, SHOWN, exclude) if vector is not None else []
        return {**super().get_context_data(**kwargs), "source": source, "found": found,
                "has_vector": vector is not None}


class SimilarToHitView(SimilarView):
    def source(self):
        hit = get_object_or_404(Hit.objects.select_related("vehicle", "file", "job"),
                                pk=self.kwargs["pk"], job__owner=self.request.user)
        return hit, hit_vector(hit), hit.embedder, []


def hit_vector(hit: Hit):
    """The hit's track vector; None for a hit stored before hits kept theirs."""
    return np.frombuffer(bytes(hit.embedding), dtype=np.float32) if hit.embedding else None
