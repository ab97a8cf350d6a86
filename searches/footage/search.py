""""Search my footage": a normal search job over footage already stored (chosen files, or those of
some cameras and dates), for chosen vehicles. Its files share the stored files (as a re-run's do),
so the worker answers every file indexed with the current models from the index in seconds; the
others are processed again, and the form says which and why (store.index_plan) before starting."""
import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.shortcuts import redirect
from django.views.generic import FormView

from engine import api
from gallery.engine_cache import embedder_name, get_engine
from gallery.models import Vehicle
from searches import lifecycle
from searches.footage.models import Camera, Footage
from searches.footage.store import index_plan
from searches.forms import IdsChoiceField
from searches.models import SearchFile, SearchJob
from searches.queueing import QueueUnavailable

log = logging.getLogger(__name__)
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"})


class FootageChoiceField(IdsChoiceField):
    def label_from_instance(self, footage):
        camera = f" · {footage.camera}" if footage.camera_id else ""
        return f"{footage.original_name}{camera} ({footage.get_status_display().lower()})"


class FootageSearchForm(forms.Form):
    vehicles = IdsChoiceField(queryset=Vehicle.objects.none(), widget=forms.CheckboxSelectMultiple,
                              label="Vehicles to look for")
    footage = FootageChoiceField(queryset=Footage.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
                                 label="Files", help_text="None chosen: all your footage of the cameras and dates below.")
    cameras = IdsChoiceField(queryset=Camera.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
                             help_text="None chosen: every camera.")
    start = forms.DateTimeField(required=False, label="Recorded from", widget=DATETIME)
    end = forms.DateTimeField(required=False, label="Recorded until", widget=DATETIME)
    threshold = forms.FloatField(required=False, label="Match threshold",
                                 widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "2"}))
    match_attributes = forms.BooleanField(required=False, initial=True, label="Colour and type must agree")

    def __init__(self, *args, user, default_threshold=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["vehicles"].queryset = Vehicle.objects.filter(owner=user).order_by("label", "pk")
        self.fields["footage"].queryset = Footage.objects.filter(owner=user).select_related("camera")
        self.fields["cameras"].queryset = Camera.objects.filter(owner=user)
        if default_threshold is not None:
            self.fields["threshold"].widget.attrs["placeholder"] = f"{default_threshold:.2f} (default)"

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if threshold is not None and not 0 < threshold < 2:
            raise forms.ValidationError("A cosine distance between 0 and 2.")
        return threshold

    def clean(self):
        cleaned = super().clean()
        if "footage" in cleaned and not self.errors:
            cleaned["chosen"] = self.chosen_footage(cleaned)
            if not cleaned["chosen"]:
                raise forms.ValidationError("None of your stored footage matches these cameras and dates.")
        return cleaned

    def chosen_footage(self, cleaned) -> list[Footage]:
        """The chosen files, else the footage of the chosen cameras recorded (in part) in the range;
        only files still stored (a search holds them)."""
        if cleaned["footage"]:
            found = list(cleaned["footage"])
        else:
            found = Footage.objects.filter(owner=self.user).select_related("camera").order_by("recorded_at", "pk")
            if cleaned.get("cameras"):
                found = found.filter(camera__in=cleaned["cameras"])
            start, end = cleaned.get("start"), cleaned.get("end")
            if start or end:
                found = [f for f in found.exclude(recorded_at=None)
                         if (not end or f.recorded_at <= end) and (not start or f.seconds_at(f.duration_s or 0) >= start)]
        stored = set(SearchFile.objects.filter(job__owner=self.user, file__in=[f.file for f in found])
                     .values_list("file", flat=True))
        return [f for f in found if f.file in stored]


def plan_for(footage: list[Footage], engine) -> dict:
    """Which files the index answers and which are processed again (why), and the frame stride
    the job takes: the coarsest of the answerable footage's, so that each of them stays answerable."""
    name, models = embedder_name(engine), engine.models
    usable = [f.frame_stride or 1 for f in footage
              if f.status == Footage.Status.INDEXED and f.embedder == name and f.detector == models.get("detector")]
    stride = max(usable, default=SearchJob._meta.get_field("frame_stride").default)
    rows = [(f, *index_plan(f, models, name, stride)) for f in footage]
    return {"stride": stride, "rows": rows, "indexed": sum(1 for _, ok, _ in rows if ok),
            "processed": sum(1 for _, ok, _ in rows if not ok)}


def create_job(user, cleaned, stride: int) -> SearchJob:
    """A queued-to-be search job over the chosen footage's stored files (no bytes counted twice)."""
    vehicles, footage = list(cleaned["vehicles"]), cleaned["chosen"]
    sources = {}
    for row in SearchFile.objects.filter(job__owner=user, file__in=[f.file for f in footage]).order_by("pk"):
        sources.setdefault(row.file.name, row)
    labels = ", ".join(v.label for v in vehicles)
    with transaction.atomic():
        job = SearchJob.objects.create(
            owner=user, name=f"Footage search: {labels}"[:200], frame_stride=stride, threshold=cleaned["threshold"],
            match_attributes=cleaned["match_attributes"])
        job.vehicles.set(vehicles)
        SearchFile.objects.bulk_create([
            SearchFile(job=job, position=position, file=f.file, original_name=f.original_name, footage=f,
                       kind=sources[f.file].kind, duration_s=sources[f.file].duration_s, fps=sources[f.file].fps,
                       width=sources[f.file].width, height=sources[f.file].height,
                       frames_total=sources[f.file].frames_total, stored_bytes=0)
            for position, f in enumerate(footage)
        ], batch_size=500)
    return job


class FootageSearchView(LoginRequiredMixin, FormView):
    """GET: the form (?vehicle= preselects one); POST "check": what the index can answer; POST: start."""

    form_class = FootageSearchForm
    template_name = "footage/search.html"

    def get_form_kwargs(self):
        kwargs = {**super().get_form_kwargs(), "user": self.request.user}
        try:
            self.engine = get_engine()
            kwargs["default_threshold"] = self.engine.threshold
        except (api.EngineError, OSError):
            log.exception("engine unavailable")
            self.engine = None
        return kwargs

    def get_initial(self):
        pk = self.request.GET.get("vehicle", "")
        vehicle = Vehicle.objects.filter(owner=self.request.user, pk=pk).first() if pk.isdigit() and len(pk) <= 18 else None
        return {"vehicles": [vehicle] if vehicle else [], "match_attributes": True}

    def form_valid(self, form):
        if self.engine is None:
            form.add_error(None, "The recognition models could not be loaded; try again later.")
            return self.form_invalid(form)
        plan = plan_for(form.cleaned_data["chosen"], self.engine)
        if self.request.POST.get("action") == "check":
            return self.render_to_response(self.get_context_data(form=form, plan=plan))
        job = create_job(self.request.user, form.cleaned_data, plan["stride"])
        try:
            lifecycle.queue(job)
        except QueueUnavailable:
            messages.error(self.request, "The job queue could not be reached. Is Redis running?")
        return redirect(job)
