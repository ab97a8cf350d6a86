""""Where it was seen": every sighting of one vehicle across the user's footage, in time order,
one timeline row per camera (bars placed in % of the shown time range), each a link that plays
the video at that moment. Loaded by the vehicle page with htmx, so that page stays fast."""
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView

from engine import api
from gallery.engine_cache import get_engine
from gallery.models import Vehicle
from searches.footage.models import Camera, Sighting
from searches.footage.queries import vehicle_sightings
from searches.forms import IdsChoiceField
from searches.models import SearchFile

log = logging.getLogger(__name__)
MIN_BAR_PERCENT = 0.6
MIN_SPAN_S = 60.0  # a single sighting still gets a readable axis
TICKS = 4


class JourneyFilterForm(forms.Form):
    cameras = IdsChoiceField(queryset=Camera.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)
    start = forms.DateTimeField(required=False, label="From",
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(required=False, label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cameras"].queryset = Camera.objects.filter(owner=user)


@dataclass
class Bar:
    sighting: Sighting
    left: float
    width: float


@dataclass
class CameraRow:
    name: str
    bars: list = field(default_factory=list)


def build_journey(rows: list[Sighting]) -> dict:
    """Timed sightings as camera rows over one time axis (cameras in order of first sighting),
    and the sightings whose time is unknown."""
    timed = [row for row in rows if row.seen_at is not None]
    untimed = [row for row in rows if row.seen_at is None]
    if not timed:
        return {"cameras": [], "untimed": untimed, "ticks": []}
    first = min(row.seen_at for row in timed)
    last = max(row.seen_at + timedelta(seconds=row.end_s - row.start_s) for row in timed)
    span = max((last - first).total_seconds(), MIN_SPAN_S)
    cameras: dict[int | None, CameraRow] = {}
    for row in timed:
        camera = cameras.setdefault(row.camera_id, CameraRow(row.camera.name if row.camera else "No camera"))
        left = 100.0 * (row.seen_at - first).total_seconds() / span
        width = max(MIN_BAR_PERCENT, 100.0 * (row.end_s - row.start_s) / span)
        left = min(left, 100 - MIN_BAR_PERCENT)
        camera.bars.append(Bar(row, round(left, 3), round(min(width, 100 - left), 3)))
    ticks = [(round(100.0 * i / TICKS, 3), first + timedelta(seconds=span * i / TICKS)) for i in range(TICKS + 1)]
    return {"cameras": list(cameras.values()), "untimed": untimed, "ticks": ticks, "first": first,
            "last": first + timedelta(seconds=span)}


def attach_play_links(user, rows: list[Sighting]) -> None:
    """Each sighting's `play_url`: its stored video (a search file of the user's sharing it) from
    the moment it is seen best (`#t=`), or "" when no search holds the file any more."""
    names = {row.footage.file for row in rows}
    file_pk = dict(SearchFile.objects.filter(job__owner=user, file__in=names).order_by("-pk")
                   .values_list("file", "pk"))  # ordered: the oldest row of a file wins, any would do
    for row in rows:
        pk = file_pk.get(row.footage.file)
        row.play_url = f"{reverse('searches:file', args=[pk])}#t={row.best_time_s:.1f}" if pk else ""


class JourneyView(LoginRequiredMixin, TemplateView):
    """The section of the vehicle page (htmx), or a page of its own when opened directly."""

    def get_template_names(self):
        return ["footage/_journey.html" if self.request.headers.get("HX-Request") else "footage/journey.html"]

    def get_context_data(self, **kwargs):
        user = self.request.user
        vehicle = get_object_or_404(Vehicle, pk=self.kwargs["pk"], owner=user)
        form = JourneyFilterForm(self.request.GET or None, user=user)
        chosen = form.cleaned_data if form.is_valid() else {}
        context = {**super().get_context_data(**kwargs), "vehicle": vehicle, "form": form, "error": ""}
        try:
            rows = vehicle_sightings(vehicle, get_engine(), cameras=chosen.get("cameras") or None,
                                     start=chosen.get("start"), end=chosen.get("end"))
        except (api.EngineError, OSError):
            log.exception("journey of vehicle %s", vehicle.pk)
            rows, context["error"] = [], "The recognition models could not be loaded; try again later."
        attach_play_links(user, rows)
        return {**context, **build_journey(rows), "count": len(rows), "filtered": bool(chosen and any(chosen.values()))}

