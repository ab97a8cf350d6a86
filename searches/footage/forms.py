"""Forms of the footage pages: explore's filters, the label of a vehicle registered from a sighting, and
a file's camera and recording start."""
from django import forms
from django.conf import settings
from django.db import transaction
from django.utils.html import format_html, format_html_join

from searches.footage.models import Camera, Footage, Sighting
from searches.footage.queries import TimeOrdered
from searches.footage.recording import camera_named, camera_names, sync_sightings


class QuickSelect(forms.Select):
    """A select rendered in Python: Django's renders a template per option, and a user with a
    thousand files would wait for it on every page of the grid."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value)
        options = format_html_join("", "<option value=\"{}\"{}>{}</option>",
                                   ((v, " selected" if str(v) == chosen else "", label)
                                    for v, label in self.choices))
        return format_html('<select name="{}" id="{}">{}</select>', name, (attrs or {}).get("id", f"id_{name}"),
                           options)


class ExploreForm(forms.Form):
    """Filters of the explore grid (GET). Every field is optional; each choice is the user's own."""

    ORDERS = [("asc", "Oldest first"), ("desc", "Newest first")]

    camera = forms.ModelChoiceField(queryset=Camera.objects.none(), required=False, empty_label="Any camera",
                                    widget=QuickSelect)
    seen_from = forms.DateTimeField(required=False, label="From",
                                    widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    seen_to = forms.DateTimeField(required=False, label="To",
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    colour = forms.ChoiceField(required=False)
    vehicle_type = forms.ChoiceField(required=False, label="Type")
    footage = forms.ModelChoiceField(queryset=Footage.objects.none(), required=False, label="File",
                                     empty_label="Any file", widget=QuickSelect)
    order = forms.ChoiceField(choices=ORDERS, required=False)

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["camera"].queryset = Camera.objects.filter(owner=owner).only("pk", "name")
        self.fields["footage"].queryset = (Footage.objects.filter(owner=owner).only("pk", "original_name")
                                           .order_by("original_name", "pk"))
        mine = Sighting.objects.filter(owner=owner).order_by()
        for name, empty in (("colour", "Any colour"), ("vehicle_type", "Any type")):
            values = mine.exclude(**{name: ""}).values_list(name, flat=True).distinct().order_by(name)
            self.fields[name].choices = [("", empty)] + [(v, v) for v in values]

    def clean(self):
        data = super().clean()
        if data.get("seen_from") and data.get("seen_to") and data["seen_from"] > data["seen_to"]:
            self.add_error("seen_to", "The end is before the start.")
        return data

    def filter(self, queryset) -> TimeOrdered:
        """The sightings its valid fields keep, in the order asked for."""
        self.is_valid()  # fills cleaned_data with the fields that are valid
        data = self.cleaned_data if self.is_bound else {}
        lookups = {"camera": data.get("camera"), "colour": data.get("colour"),
                   "vehicle_type": data.get("vehicle_type"), "footage": data.get("footage"),
                   "seen_at__gte": data.get("seen_from"), "seen_at__lte": data.get("seen_to")}
        lookups = {key: value for key, value in lookups.items() if value}
        one_footage = "footage" in lookups
        if one_footage:  # one of the owner's files (its choices are): its index, not the owner's
            queryset = Sighting.objects.filter(footage=lookups.pop("footage"))
        timed = "seen_at__gte" in lookups or "seen_at__lte" in lookups
        return TimeOrdered(queryset.filter(**lookups), descending=data.get("order") == "desc",
                           with_unknown=not timed, one_footage=one_footage)


class RegisterSightingForm(forms.Form):
    label = forms.CharField(max_length=100, required=False)


TIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


class FootageForm(forms.ModelForm):
    camera_name = forms.CharField(
        required=False, max_length=100, label="Camera", widget=forms.TextInput(attrs={"list": "camera-names"}),
        help_text="Pick one of your cameras or type a new name; empty: no camera.")
    mounting = forms.ChoiceField(
        required=False, label="This camera is", choices=Camera._meta.get_field("mounting").choices,
        help_text="Fixed: every search of this camera's files runs the fast motion-gated mode; "
                  "moving: every frame. Applies to all files of the camera.")

    class Meta:
        model = Footage
        fields = ["recorded_at"]
        widgets = {"recorded_at": TIME_INPUT}
        labels = {"recorded_at": "Recording started at"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorded_before = self.instance.recorded_at  # to the microsecond, which the input drops
        self.fields["camera_name"].initial = self.instance.camera.name if self.instance.camera else ""
        self.fields["mounting"].initial = self.instance.camera.mounting if self.instance.camera else ""
        self.fields["recorded_at"].help_text = (
            f"{settings.TIME_ZONE} time; empty: unknown. Its sightings' times follow.")
        self.camera_names = camera_names(self.instance.owner)

    def save(self, commit=True):
        """Saves the camera and time, and copies them onto the footage's sightings."""
        footage = super().save(commit=False)
        footage.camera = camera_named(footage.owner, self.cleaned_data["camera_name"])
        if footage.camera is not None and footage.camera.mounting != self.cleaned_data["mounting"]:
            footage.camera.mounting = self.cleaned_data["mounting"]
            footage.camera.save(update_fields=["mounting"])
        if "recorded_at" in self.changed_data:
            footage.recorded_at_source = Footage.TimeSource.USER if footage.recorded_at else Footage.TimeSource.UNKNOWN
        else:
            footage.recorded_at = self.recorded_before
        with transaction.atomic():
            footage.save(update_fields=["camera", "recorded_at", "recorded_at_source"])
            sync_sightings(footage)
        return footage
