"""Gallery pages: the vehicle list, registration from a photo, a vehicle's page, media files."""
import logging

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import DeleteView, DetailView, FormView, ListView, UpdateView

from engine import api
from gallery import registration
from gallery.files import serve_fieldfile
from gallery.forms import PhotoUploadForm, PickBoxForm, VehicleLabelForm
from gallery.models import PendingPhoto, Vehicle, VehiclePhoto
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
        from searches.models import Hit  # searches depends on gallery, not the reverse

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


class PhotoUploadView(UploadLimitMixin, LoginRequiredMixin, FormView):
    form_class = PhotoUploadForm
    template_name = "gallery/upload.html"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        return {"vehicle": self.request.GET.get("vehicle")}

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
        if not pending.detections:
            messages.warning(
                self.request,
                "No vehicle was found in this photo. Use the whole image or drag a box around the vehicle.",
            )
        return redirect(pending)


def _pick_context(pending, form):
    """Detections with their box in percent of the image, for the clickable overlay."""
    boxes = []
    for index, det in enumerate(pending.detections):
        x1, y1, x2, y2 = det["box"]
        boxes.append({
            "index": index, "label": det["label"], "score": det["score"],
            "left": 100 * x1 / pending.width, "top": 100 * y1 / pending.height,
            "width": 100 * (x2 - x1) / pending.width, "height": 100 * (y2 - y1) / pending.height,
        })
    return {"pending": pending, "form": form, "boxes": boxes, "whole_index": len(boxes)}


class PickBoxView(LoginRequiredMixin, View):
    """Shows the photo with the detected boxes; the user picks one (htmx) and saves."""

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


class PickDetectionView(LoginRequiredMixin, View):
    """htmx fragment: the save form filled with one detection's box."""

    def get(self, request, pk, index):
        pending = get_object_or_404(PendingPhoto, pk=pk, owner=request.user)
        if index >= len(pending.detections):
            x1, y1, x2, y2 = 0, 0, pending.width, pending.height  # "use the whole image"
        else:
            x1, y1, x2, y2 = pending.detections[index]["box"]
        form = PickBoxForm(
            initial={"x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": request.GET.get("label", "")},
            needs_label=pending.vehicle is None,
        )
        return render(request, "gallery/_pick_form.html", {"pending": pending, "form": form, "chosen": index})


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


def owned_or_viewable(user, model, pk, **owner_lookup):
    """For media: the user's own object, or another's with the model's view permission (the
    admin's thumbnails; staff status alone shows nothing); else 404. The permission is looked
    up only for objects that are not the user's own (a page loads dozens of thumbnails)."""
    found = model._default_manager.filter(pk=pk, **owner_lookup).first()
    if found is None and user.has_perm(view_permission(model)):
        found = model._default_manager.filter(pk=pk).first()
    if found is None:
        raise Http404(f"No {model._meta.verbose_name} {pk}")
    return found


def photo_file(request, pk, kind):
    photo = owned_or_viewable(request.user, VehiclePhoto, pk, vehicle__owner=request.user)
    return serve_fieldfile(request, photo.crop if kind == "crop" else photo.image)


def pending_file(request, pk):
    pending = owned_or_viewable(request.user, PendingPhoto, pk, owner=request.user)
    return serve_fieldfile(request, pending.image)
