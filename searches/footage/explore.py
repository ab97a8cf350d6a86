"""Explore: every vehicle seen in the user's footage, as a grid, filtered and in time order."""
from django.views.generic import ListView

from gallery.views import OwnedMixin
from searches.footage.forms import ExploreForm
from searches.footage.models import Sighting

PER_PAGE = 48


class ExploreView(OwnedMixin, ListView):
    model = Sighting
    template_name = "footage/explore.html"
    context_object_name = "sightings"
    paginate_by = PER_PAGE

    def get_queryset(self):
        self.form = ExploreForm(self.request.GET, owner=self.request.user)
        return self.form.filter(super().get_queryset().order_by())

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        return {**super().get_context_data(**kwargs), "form": self.form,
                "page_query": query.urlencode() + "&" if query else ""}
