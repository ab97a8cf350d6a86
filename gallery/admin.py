from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from gallery.models import NegativeExample, PendingPhoto, Vehicle, VehiclePhoto
from gallery.queries import count_of, cover_photo_id


def thumbnail(photo_id, size=64):
    if photo_id is None:
        return "—"
    url = reverse("gallery:photo_file", args=[photo_id, "crop"])
    return format_html('<img src="{}" alt="" style="max-height:{}px;max-width:{}px">', url, size, size * 2)


class VehiclePhotoInline(admin.TabularInline):
    model = VehiclePhoto
    fields = ["preview", "box", "embedder", "dim", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # photos are added through the registration page (it runs the engine)

    @admin.display(description="Crop")
    def preview(self, obj):
        return thumbnail(obj.pk)


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):
    list_display = ["preview", "label", "owner", "photo_count", "hit_count", "created"]
    list_display_links = ["preview", "label"]
    list_filter = ["owner"]
    search_fields = ["label", "owner__username"]
    fields = ["label", "owner", "created"]
    inlines = [VehiclePhotoInline]

    def get_readonly_fields(self, request, obj=None):
        # A new vehicle is added for a user (its photos then from the site's "Add a photo");
        # it never moves to another user, whose gallery index would not know it.
        return ["created"] if obj is None else ["owner", "created"]

    def get_queryset(self, request):
        # Imported here: searches.models imports gallery.models, so a module-level import would be circular.
        from searches.models import Hit

        return super().get_queryset(request).annotate(
            n_photos=count_of(VehiclePhoto, "vehicle"), n_hits=count_of(Hit, "vehicle"), cover_id=cover_photo_id()
        )

    @admin.display(description="Photo")
    def preview(self, obj):
        return thumbnail(obj.cover_id)

    @admin.display(description="Photos", ordering="n_photos")
    def photo_count(self, obj):
        return obj.n_photos

    @admin.display(description="Hits", ordering="n_hits")
    def hit_count(self, obj):
        return obj.n_hits


@admin.register(PendingPhoto)
class PendingPhotoAdmin(admin.ModelAdmin):
    list_display = ["pk", "owner", "original_name", "created"]
    exclude = ["image"]  # its URL would be MEDIA_URL, which serves nothing: see `preview`
    readonly_fields = ["owner", "preview", "detections", "width", "height", "vehicle"]
    view_on_site = False  # its page is the owner's box picker

    @admin.display(description="Image")
    def preview(self, obj):
        url = reverse("gallery:pending_file", args=[obj.pk])
        return format_html('<a href="{}"><img src="{}" alt="" style="max-height:128px"></a>', url, url)

    def has_add_permission(self, request):
        return False  # made by uploading on the registration page (it runs the detector)


@admin.register(NegativeExample)
class NegativeExampleAdmin(admin.ModelAdmin):
    """Rejected look-alikes per vehicle; deleting one lets that look-alike match again."""

    list_display = ["vehicle", "source", "embedder", "created"]
    list_filter = ["vehicle__owner"]
    search_fields = ["vehicle__label", "source"]
    readonly_fields = ["vehicle", "embedder", "dim", "attributes", "thumbnail", "source", "created"]
    exclude = ["embedding"]

    def has_add_permission(self, request):
        return False
