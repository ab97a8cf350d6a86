from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from searches.models import Hit, SearchFile, SearchJob


class SearchFileInline(admin.TabularInline):
    model = SearchFile
    fields = ["original_name", "kind", "status", "progress", "frames_done", "frames_total", "resume_frame", "error"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SearchJob)
class SearchJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "name", "owner", "status", "percent", "device", "frame_stride", "created", "heartbeat_at"]
    list_filter = ["status", "device", "owner"]
    search_fields = ["name", "owner__username"]
    readonly_fields = ["owner", "progress", "eta_s", "speed_fps", "heartbeat_at", "rq_job_id", "rerun_of",
                       "started_at", "finished_at", "created"]
    inlines = [SearchFileInline]

    def has_delete_permission(self, request, obj=None):
        deletable = obj is None or SearchJob.objects.filter(SearchJob.DELETABLE, pk=obj.pk).exists()
        return deletable and super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset.filter(SearchJob.DELETABLE))  # "delete selected"

    @admin.display(description="Progress")
    def percent(self, obj):
        return f"{obj.progress_percent}%"


@admin.register(Hit)
class HitAdmin(admin.ModelAdmin):
    list_display = ["preview", "vehicle", "job", "file", "start_s", "end_s", "distance"]
    list_filter = ["job__owner"]
    exclude = ["thumbnail"]  # its URL would be MEDIA_URL, which serves nothing: see `preview`
    readonly_fields = ["job", "file", "vehicle", "preview"]

    @admin.display(description="Best frame")
    def preview(self, obj):
        if not obj.thumbnail:
            return "—"
        url = reverse("searches:hit_thumbnail", args=[obj.pk])
        return format_html('<a href="{}"><img src="{}" alt="" style="max-height:64px"></a>', url, url)
