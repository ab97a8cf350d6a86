"""Admin for the footage index: staff see every user's cameras, footage and sightings."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from searches.footage.models import Camera, Footage, Sighting


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created"]
    list_filter = ["owner"]
    search_fields = ["name", "owner__username"]


@admin.register(Footage)
class FootageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "owner", "camera", "recorded_at", "status", "sightings_count", "indexed_at"]
    list_filter = ["status", "owner"]
    list_select_related = ["owner", "camera"]
    search_fields = ["original_name", "owner__username", "camera__name"]
    readonly_fields = ["owner", "file", "kind", "fps", "duration_s", "status", "detector", "embedder",
                       "frame_stride", "indexed_at", "indexer", "sightings_count", "created"]
    raw_id_fields = ["camera"]

    def has_add_permission(self, request):
        return False  # made by uploading footage


@admin.register(Sighting)
class SightingAdmin(admin.ModelAdmin):
    list_display = ["pk", "picture", "footage", "owner", "camera", "seen_at", "start_s", "colour", "vehicle_type"]
    list_filter = ["colour", "vehicle_type", "owner"]
    list_select_related = ["footage", "owner", "camera"]
    search_fields = ["footage__original_name", "owner__username"]
    exclude = ["embedding"]
    readonly_fields = ["footage", "owner", "start_s", "end_s", "start_frame", "end_frame", "best_frame", "best_time_s",
                       "box", "attributes", "embedder", "crops", "thumbnail"]
    raw_id_fields = ["camera"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("embedding")

    def has_add_permission(self, request):
        return False  # made by the workers, from footage

    @admin.display(description="Picture")
    def picture(self, obj):
        if not obj.thumbnail:
            return "—"  # (MEDIA_URL serves nothing: the thumbnail view serves staff with the view permission)
        return format_html('<img src="{}" height="48" alt="">', reverse("footage:sighting_thumbnail", args=[obj.pk]))
