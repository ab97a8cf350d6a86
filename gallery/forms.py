from django import forms
from django.conf import settings

from gallery.models import Vehicle
from vreid_site.upload_limits import limit_bytes


def check_upload_size(upload) -> None:
    if upload.size > limit_bytes():
        raise forms.ValidationError(f"{upload.name} is larger than {settings.VREID_MAX_UPLOAD_MB} MB.")


class PhotoUploadForm(forms.Form):
    photo = forms.FileField(
        label="Photo of the vehicle", widget=forms.ClearableFileInput(attrs={"accept": "image/*"})
    )
    vehicle = forms.ModelChoiceField(
        queryset=Vehicle.objects.none(), required=False, empty_label="A new vehicle",
        label="Add to",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].queryset = Vehicle.objects.filter(owner=user)

    def clean_photo(self):
        photo = self.cleaned_data["photo"]
        check_upload_size(photo)
        return photo


BOX_FIELDS = ("x1", "y1", "x2", "y2")


class PickBoxForm(forms.Form):
    """The box the user picked (a detection, the whole image, or a drawn box) and a label."""

    x1 = forms.FloatField(widget=forms.HiddenInput)
    y1 = forms.FloatField(widget=forms.HiddenInput)
    x2 = forms.FloatField(widget=forms.HiddenInput)
    y2 = forms.FloatField(widget=forms.HiddenInput)
    label = forms.CharField(max_length=120, required=False)

    def __init__(self, *args, needs_label: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].required = needs_label

    @property
    def box(self):
        return [self.cleaned_data[k] for k in BOX_FIELDS]

    @property
    def picked(self) -> bool:
        """Whether the form holds a box (the page shows it, or asks for one)."""
        return all(self[name].value() not in (None, "") for name in BOX_FIELDS)


class VehicleLabelForm(forms.ModelForm):
    class Meta:
        model = Vehicle
        fields = ["label"]
