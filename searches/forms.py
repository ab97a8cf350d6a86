import json

from django import forms
from django.conf import settings

from gallery.models import Vehicle
from searches.devices import device_choices
from searches.footage.recording import camera_names
from searches.footage.upload import UploadFootage
from searches.models import SearchJob
from vreid_site.upload_limits import limit_bytes


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("allow_empty_file", True)  # an empty file is reported per file, not for all
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """Refuses ids no row can have before they reach the database (SQLite raises OverflowError
    on an integer past 64 bits in `IN (...)`; an exact lookup is already safe)."""

    MAX_ID = 2**63 - 1

    def _check_values(self, value):
        for pk in value:
            try:
                valid = 0 < int(str(pk)) <= self.MAX_ID
            except ValueError:  # not a number, or over int()'s 4300 digits
                valid = False
            if not valid:
                raise forms.ValidationError(self.error_messages["invalid_pk_value"], code="invalid_pk_value",
                                            params={"pk": str(pk)[:20]})
        return super()._check_values(value)


class SearchSettingsForm(forms.ModelForm):
    upload_fields = ()  # shown with the files, not among the settings (NewSearchForm)

    class Meta:
        model = SearchJob
        fields = ["name", "vehicles", "device", "frame_stride", "threshold", "tracking", "proposals", "camera", "match_attributes"]
        field_classes = {"vehicles": IdsChoiceField}
        widgets = {"vehicles": forms.CheckboxSelectMultiple}
        labels = {"vehicles": "Vehicles to look for", "threshold": "Match threshold"}

    def __init__(self, *args, user, default_threshold=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicles"].queryset = Vehicle.objects.filter(owner=user)
        self.fields["vehicles"].required = False
        self.fields["camera"].required = False  # left out (API clients, older pages): moving camera
        self.fields["device"].choices = device_choices()  # only what the workers have
        self.fields["frame_stride"].min_value = 1
        self.fields["frame_stride"].widget.attrs.update(min=1, max=100)
        self.fields["threshold"].widget.attrs.update(step="0.01", min="0", max="2")
        if default_threshold is not None:
            self.fields["threshold"].widget.attrs["placeholder"] = f"{default_threshold:.2f} (default)"
            self.fields["threshold"].help_text = (
                f"Cosine distance below which a vehicle matches; empty = {default_threshold:.2f}."
            )

    def clean_frame_stride(self):
        stride = self.cleaned_data["frame_stride"]
        if not 1 <= stride <= 100:
            raise forms.ValidationError("Between 1 and 100.")
        return stride

    def clean_camera(self):
        return self.cleaned_data["camera"] or SearchJob.Camera.MOVING

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if threshold is not None and not 0 < threshold < 2:
            raise forms.ValidationError("A cosine distance between 0 and 2.")
        return threshold


class NewSearchForm(SearchSettingsForm):
    files = MultipleFileField(
        required=False, label="Images, videos or zip archives",
        widget=MultipleFileInput(attrs={"accept": "image/*,video/*,.zip,.mkv,.avi"}),
    )
    folder = MultipleFileField(
        required=False, label="…or a whole folder",
        widget=MultipleFileInput(attrs={"webkitdirectory": True, "directory": True}),
    )
    # Filled by static/js/folder_paths.js: the folder's files' paths, since uploads carry only
    # base names (cam1/0001.jpg and cam2/0001.jpg must not both show as 0001.jpg).
    folder_paths = forms.CharField(required=False, widget=forms.HiddenInput)
    camera_name = forms.CharField(
        required=False, max_length=100, label="Camera", widget=forms.TextInput(attrs={"list": "camera-names"}),
        help_text="Where the footage was recorded. Empty: a file in a folder (a folder upload, an "
                  "archive's folders) takes its folder's name; other files have no camera.")
    recorded_at = forms.DateTimeField(
        required=False, label="Recording started at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S"),
        help_text="For files whose own metadata and name tell no time (those are read first). "
                  "You can change each file's camera and time later under Footage.")
    upload_fields = ("files", "folder", "folder_paths", "camera_name", "recorded_at")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.camera_names = camera_names(user)

    def footage_fields(self):
        return [self["camera_name"], self["recorded_at"]]

    def clean(self):
        cleaned = super().clean()
        files, folder = cleaned.get("files", []), cleaned.get("folder", [])
        if not files and not folder:
            raise forms.ValidationError("Choose at least one file, archive or folder to search.")
        if sum(upload.size for upload in files + folder) > limit_bytes():
            raise forms.ValidationError(f"The upload is larger than {settings.VREID_MAX_UPLOAD_MB} MB.")
        folder_names = relative_names(folder, cleaned.get("folder_paths", ""))
        cleaned["uploads"] = [(upload.name, upload) for upload in files] + list(zip(folder_names, folder))
        return cleaned

    def upload_footage(self, owner) -> UploadFootage:
        return UploadFootage(owner, self.cleaned_data.get("camera_name", ""), self.cleaned_data.get("recorded_at"))

    def upload_bytes(self) -> int:
        return sum(upload.size for _, upload in self.cleaned_data.get("uploads", []))


def relative_names(uploads, paths_json: str) -> list[str]:
    """Display names with their folders, from the page's list of relative paths; a path is used
    only where it ends with the uploaded file's own name, else the base name stays."""
    try:
        paths = json.loads(paths_json or "[]")
    except (ValueError, RecursionError):  # RecursionError: thousands of nested brackets
        paths = []
    if not isinstance(paths, list) or len(paths) != len(uploads):
        return [upload.name for upload in uploads]
    names = []
    for upload, path in zip(uploads, paths):
        parts = [part for part in str(path).replace("\\", "/").split("/") if part not in ("", ".", "..")]
        names.append("/".join(parts)[-400:] if parts and parts[-1] == upload.name else upload.name)
    return names
