from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from gallery.models import Vehicle
from searches import lifecycle
from searches.models import Hit, NearMiss, SearchFile, SearchJob
from searches.queueing import QueueUnavailable
from searches.templatetags.job_figures import duration


class SearchFileInline(admin.TabularInline):
    model = SearchFile
    fields = ["original_name", "kind", "status", "percent", "frames_done", "frames_total", "resume_frame",
              "time", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False  # a job's files go with the job

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Progress")
    def percent(self, obj):
        return f"{obj.progress_percent}%"

    @admin.display(description="Time")
    def time(self, obj):
        return figures(obj)


def figures(obj) -> str:
    """How long a job or file has been searched, and how fast."""
    speed = f" · {obj.speed_fps:.0f} frames/s" if obj.speed_fps else ""
    return f"{duration(obj.elapsed_s)}{speed}" if obj.elapsed_s else "—"


def transition_action(name: str, transition, verb: str, done_verb: str, permission: str = "change"):
    """An admin action applying a searches.lifecycle transition to each selected job."""

    def action(modeladmin, request, queryset):
        jobs = list(queryset)
        try:
            done = sum(transition(job) for job in jobs)
        except QueueUnavailable:
            modeladmin.message_user(request, "The job queue (Redis) could not be reached.", messages.ERROR)
            return
        if done == len(jobs):
            modeladmin.message_user(request, f"{done_verb} {done} search{'es' if done != 1 else ''}.", messages.SUCCESS)
        else:
            modeladmin.message_user(request, f"{done_verb} {done} of {len(jobs)} searches: the others' state does not "
                                             "allow it.", messages.WARNING)
    action.__name__ = name
    return admin.action(description=f"{verb} the selected searches",
                        permissions=[permission])(action)


@admin.register(SearchJob)
class SearchJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "name", "owner", "status", "percent", "device", "ran_on", "frame_stride", "created",
                    "heartbeat_at"]
    list_filter = ["status", "device", "owner"]
    search_fields = ["name", "owner__username"]
    STATE = ["status", "error", "notice", "percent", "eta", "time", "ran_on", "device_fallback", "recoveries",
             "heartbeat_at", "rq_job_id", "queued_at", "started_at", "finished_at"]
    fieldsets = [
        (None, {"fields": ["name", "owner", "created", "rerun_of"]}),
        ("Settings", {"fields": ["device", "frame_stride", "threshold", "tracking", "proposals", "vehicles"]}),
        # The job's state changes only through searches.lifecycle: here by the list's actions.
        ("State (changed by the actions of the list)", {"fields": STATE}),
    ]
    readonly_fields = ["owner", "created", "rerun_of", *STATE]
    inlines = [SearchFileInline]
    actions = [
        transition_action("pause", lifecycle.pause, "Pause", "Paused"),
        transition_action("resume", lifecycle.resume, "Resume", "Resumed"),
        transition_action("cancel", lifecycle.cancel, "Cancel", "Cancelled"),
        transition_action("delete", lifecycle.delete, "Delete", "Deleted", permission="delete"),
    ]

    def has_add_permission(self, request):
        return False  # a search needs uploaded footage: the site's "New search" page

    def has_delete_permission(self, request, obj=None):
        # Through lifecycle.delete only: the "delete" action, or a job's page once no worker holds it.
        return super().has_delete_permission(request, obj) and (obj is None or obj.can_delete)

    def delete_model(self, request, obj):
        lifecycle.delete(obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # unguarded: replaced by the "delete" action
        return actions

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and "vehicles" in form.base_fields:
            form.base_fields["vehicles"].queryset = Vehicle.objects.filter(owner=obj.owner)
        return form

    @admin.display(description="Progress")
    def percent(self, obj):
        return f"{obj.progress_percent}%"

    @admin.display(description="Time left")
    def eta(self, obj):
        return duration(obj.eta_s) or "—"

    @admin.display(description="Time")
    def time(self, obj):
        return figures(obj)


@admin.register(Hit)
class HitAdmin(admin.ModelAdmin):
    list_display = ["preview", "vehicle", "job", "file_name", "time", "rounded_distance", "confirmed_at"]
    list_filter = ["job__owner", "confirmed_at"]
    list_select_related = ["vehicle", "job", "file"]
    fields = ["job", "file", "vehicle", "time", "frames", "rounded_distance", "box", "preview", "confirmed_at",
              "created"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # hits come from searches

    def has_change_permission(self, request, obj=None):
        return False  # found by a search: a wrong one is removed, not edited

    @admin.display(description="Frames")
    def frames(self, obj):
        return f"{obj.start_frame}–{obj.end_frame}, best {obj.best_frame} ({obj.best_time_s:.2f} s)"

    @admin.display(description="Best frame")
    def preview(self, obj):
        if not obj.thumbnail:
            return "—"
        url = reverse("searches:hit_thumbnail", args=[obj.pk])
        return format_html('<a href="{}"><img src="{}" alt="" style="max-height:64px"></a>', url, url)

    @admin.display(description="File", ordering="file__original_name")
    def file_name(self, obj):
        return Truncator(obj.file.original_name).chars(40)

    @admin.display(description="Time", ordering="start_s")
    def time(self, obj):
        return f"{obj.start_s:.1f}–{obj.end_s:.1f} s" if obj.file.kind == SearchFile.Kind.VIDEO else "image"

    @admin.display(description="Distance", ordering="distance")
    def rounded_distance(self, obj):
        return f"{obj.distance:.3f}"


@admin.register(NearMiss)
class NearMissAdmin(admin.ModelAdmin):
    """Why a candidate within the threshold was not a hit (colour/type, negative example)."""

    list_display = ["vehicle", "job", "file", "time_s", "rounded_distance", "reason"]
    list_filter = ["job__owner"]
    search_fields = ["vehicle__label", "reason", "file__original_name"]
    readonly_fields = ["job", "file", "vehicle", "distance", "reason", "time_s", "frame", "box", "created"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Distance", ordering="distance")
    def rounded_distance(self, obj):
        return f"{obj.distance:.3f}"
from searches.footage import admin as footage_admin  # noqa: E402,F401  (registers the footage index's admin)
