"""Gallery pages: the vehicle list, registration from a photo, a vehicle's page, media files."""
import logging

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import DeleteView, DetailView, FormView, ListView, UpdateView

from engine import api
from gallery import listing, registration
from gallery.boxes import percent_box
from gallery.files import serve_fieldfile
from gallery.forms import PhotoUploadForm, PickBoxForm, VehicleLabelForm
from gallery.models import NegativeExample, PendingPhoto, Vehicle, VehiclePhoto, describe_attributes
from gallery.queries import count_of, cover_photo_id
from vreid_site import storage_quota
from vreid_site.upload_limits import UploadLimitMixin

log = logging.getLogger(__name__)


class OwnedMixin(LoginRequiredMixin):
    """Restrict a view's queryset to the requesting user's objects (others answer 404)."""

    owner_field = "owner"
    any_owner = False  # set by ReadableMixin for a user with the view permission

    def get_queryset(self):
        queryset = super().get_queryset()
        return queryset if self.any_owner else queryset.filter(**{self.owner_field: self.request.user})


def view_permission(model) -> str:
    return f"{model._meta.app_label}.view_{model._meta.model_name}"


class ReadableMixin(OwnedMixin):
    """A read-only page: another user's object is shown to users holding the model's view
    permission (staff managing the data: the admin's "View on site"); changes stay the owner's.
    The permission is looked up only for objects that are not the user's own (the owner's pages,
    polled every second, cost no permission queries)."""

    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            if not self.request.user.has_perm(view_permission(self.model)):
                raise
        self.any_owner = True
        return super().get_object(queryset)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "read_only": self.any_owner}


class OwnedDeleteView(OwnedMixin, DeleteView):
    """A confirmation page (GET) and its form (POST) only: HTTP DELETE would go through
    DeletionMixin.delete() and skip form_valid(), where the delete views put their conditions."""

    http_method_names = ["get", "post"]


class VehicleListView(OwnedMixin, ListView):
    """Paginated (a gallery may hold 10k+ vehicles); counts and the cover photo id come in the
    page's one query, thumbnails load lazily through the ownership-checked file view."""

    model = Vehicle
    template_name = "gallery/vehicle_list.html"
    paginate_by = 48

    def get_queryset(self):
        # Imported here: searches.models imports gallery.models, so a module-level import would be circular.
        from searches.models import Hit

        return (
            super().get_queryset()
            .only("pk", "label")
            .annotate(
                hit_count=count_of(Hit, "vehicle"),
                photo_count=count_of(VehiclePhoto, "vehicle"),
                cover_id=cover_photo_id(),
            )
            .order_by("label", "pk")
        )

    def get_context_data(self, **kwargs):
        # The grid is cached (gallery.listing): the page's query runs only when it is rendered.
        return {**super().get_context_data(**kwargs), "grid_ttl": listing.GRID_TTL_S,
                "listing_generation": listing.generation(self.request.user.pk)}


class PhotoUploadView(UploadLimitMixin, LoginRequiredMixin, FormView):
    form_class = PhotoUploadForm
    template_name = "gallery/upload.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        return {"vehicle": self.adding_to()}

    def adding_to(self):
        """The user's vehicle this photo is for (?vehicle=), or None for a new vehicle."""
        pk = self.request.GET.get("vehicle", "")
        if not (pk.isdigit() and len(pk) <= 18):  # a primary key fits a 64-bit integer
            return None
        return Vehicle.objects.filter(owner=self.request.user, pk=pk).first()

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "vehicle": self.adding_to()}

    def form_valid(self, form):
        photo = form.cleaned_data["photo"]
        left = storage_quota.bytes_left(self.request.user)
        if left is not None and photo.size > left:
            form.add_error("photo", storage_quota.quota_message(photo.size, left))
            return self.form_invalid(form)
        try:
            pending = registration.create_pending(
                self.request.user, form.cleaned_data["photo"], form.cleaned_data["vehicle"]
            )
        except api.EngineError as exc:
            form.add_error("photo", str(exc))
            return self.form_invalid(form)
        return redirect(pending)  # the pick page says when no vehicle was found


def _describe(detection: dict) -> str:
    """"white car" where the attribute model named colour and type, else the detector's label."""
    return describe_attributes(detection.get("attributes")) or detection["label"]


def _pick_context(pending, form):
    """Detections with their box in pixels and in percent of the image, for the clickable overlay."""
    boxes = [{"index": index, "label": _describe(det), "score": det["score"],
              "pixels": [f"{v:g}" for v in det["box"]], **percent_box(det["box"], pending.width, pending.height)}
             for index, det in enumerate(pending.detections)]
    return {"pending": pending, "form": form, "boxes": boxes}


class PickBoxView(LoginRequiredMixin, View):
    """Shows the photo with the detected boxes; the user picks one, uses the whole image or draws
    a box (static/js/boxdraw.js fills the form), and saves."""

    template_name = "gallery/pick.html"

    def get_pending(self):
        return get_object_or_404(PendingPhoto, pk=self.kwargs["pk"], owner=self.request.user)

    def get(self, request, pk):
        pending = self.get_pending()
        initial = {}
        if pending.detections:
            x1, y1, x2, y2 = pending.detections[0]["box"]
            initial = {"x1": x1, "y1": y1, "x2": x2, "y2": y2}
        form = PickBoxForm(initial=initial, needs_label=pending.vehicle is None)
        return render(request, self.template_name, _pick_context(pending, form))

    def post(self, request, pk):
        pending = self.get_pending()
        form = PickBoxForm(request.POST, needs_label=pending.vehicle is None)
        if form.is_valid():
            try:
                photo = registration.register(
                    pending, form.box, label=form.cleaned_data["label"], vehicle=pending.vehicle
                )
            except (ValueError, api.EngineError) as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Saved a photo of “{photo.vehicle.label}”.")
                return redirect(photo.vehicle)
        return render(request, self.template_name, _pick_context(pending, form), status=400)


class VehicleDetailView(ReadableMixin, DetailView):
    model = Vehicle
    template_name = "gallery/vehicle_detail.html"

    def get_context_data(self, **kwargs):
        hits = self.object.hits.select_related("job", "file").order_by("-job__created", "file__position", "start_s")
        return {**super().get_context_data(**kwargs), "hits": hits[:200]}


class VehicleUpdateView(OwnedMixin, UpdateView):
    model = Vehicle
    form_class = VehicleLabelForm
    template_name = "gallery/vehicle_form.html"

    def form_valid(self, form):
        messages.success(self.request, "Label saved.")
        return super().form_valid(form)


class VehicleDeleteView(OwnedDeleteView):
    model = Vehicle
    template_name = "gallery/vehicle_confirm_delete.html"
    success_url = reverse_lazy("gallery:list")

    def form_valid(self, form):
        messages.success(self.request, f"Deleted “{self.object.label}”.")
        return super().form_valid(form)


class PhotoDeleteView(OwnedDeleteView):
    model = VehiclePhoto
    owner_field = "vehicle__owner"
    template_name = "gallery/photo_confirm_delete.html"

    def get_success_url(self):
        return reverse("gallery:vehicle", args=[self.object.vehicle_id])

    def form_valid(self, form):
        vehicle = self.object.vehicle
        left = vehicle.photos.count() - 1
        messages.success(self.request, f"Removed a photo of “{vehicle.label}” ({left} left).")
        return super().form_valid(form)


class NegativeDeleteView(OwnedMixin, View):
    """POST: forget a negative example (the look-alike may be matched again)."""

    http_method_names = ["post"]
    owner_field = "vehicle__owner"

    def post(self, request, pk):
        negative = get_object_or_404(NegativeExample, pk=pk, vehicle__owner=request.user)
        negative.delete()
        messages.success(request, f"Removed a negative example of “{negative.vehicle.label}”: "
                                  "that look-alike may be matched again.")
        return redirect(negative.vehicle)


def negative_file(request, pk):
    negative = owned_or_viewable(request.user, NegativeExample, pk, vehicle__owner=request.user)
    return serve_fieldfile(request, negative.thumbnail)


def owned_or_viewable(user, model, pk, **owner_lookup):
    """For media: the user's own object, or another's with the model's view permission (the
    admin's thumbnails; staff status alone shows nothing); else 404. The permission is looked
    up only for objects that are not the user's own (a page loads dozens of thumbnails)."""
    rows = model.all() if isinstance(model, QuerySet) else model._default_manager.all()  # `model`: or a queryset
    found = rows.filter(pk=pk, **owner_lookup).first()
    if found is None and user.has_perm(view_permission(rows.model)):
        found = rows.filter(pk=pk).first()
    if found is None:
        raise Http404(f"No {rows.model._meta.verbose_name} {pk}")
    return found


def photo_file(request, pk, kind):
    photo = owned_or_viewable(request.user, VehiclePhoto, pk, vehicle__owner=request.user)
    return serve_fieldfile(request, photo.crop if kind == "crop" else photo.image)


def pending_file(request, pk):
    pending = owned_or_viewable(request.user, PendingPhoto, pk, owner=request.user)
    return serve_fieldfile(request, pending.image)
