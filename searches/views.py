"""Search job pages: create, watch (htmx polling), control, results, exports, media."""
import logging
import math
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from engine import api
from gallery.engine_cache import get_engine
from gallery.files import serve_fieldfile
from gallery.registration import add_view, read_photo
from gallery.storage_files import local_path
from gallery.queries import count_of
from gallery.views import OwnedDeleteView, OwnedMixin, ReadableMixin, owned_or_viewable
from searches import export
from searches.file_list import file_list
from searches.forms import NewSearchForm, SearchSettingsForm
from searches.models import Hit, SearchFile, SearchJob
from searches.queueing import QueueUnavailable, enqueue, jobs_ahead
from searches.staleness import QUEUED_GRACE_S, fail_stale_jobs, lost_job_check_due
from searches.timeline import build_timeline
from searches.uploads import JobFileAdder
from vreid_site import storage_quota
from vreid_site.upload_limits import UploadLimitMixin

log = logging.getLogger(__name__)
Status = SearchJob.Status


def default_threshold():
    try:
        return get_engine().threshold
    except (api.EngineError, OSError):
        log.exception("engine unavailable")
        return None


def _enqueue(request, job) -> None:
    try:
        enqueue(job)
    except QueueUnavailable:
        messages.error(request, "The job queue could not be reached. Is Redis running?")


class JobListView(OwnedMixin, ListView):
    model = SearchJob
    template_name = "searches/job_list.html"
    paginate_by = 50

    def get(self, request, *args, **kwargs):
        fail_stale_jobs()
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # Correlated COUNT subqueries: joining files and hits would multiply their rows per job.
        return super().get_queryset().annotate(
            file_count=count_of(SearchFile, "job"), hit_count=count_of(Hit, "job")
        )

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "storage": storage_quota.usage(self.request.user)}


class JobSettingsMixin(LoginRequiredMixin):
    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user, "default_threshold": default_threshold()}


class JobCreateView(UploadLimitMixin, JobSettingsMixin, FormView):
    form_class = NewSearchForm
    template_name = "searches/job_form.html"

    def form_valid(self, form):
        quota_left = storage_quota.bytes_left(self.request.user)
        if quota_left == 0:
            form.add_error(None, storage_quota.quota_message(form.upload_bytes(), 0))
            return self.form_invalid(form)
        job = form.save(commit=False)
        job.owner = self.request.user
        # Files are stored first, outside any transaction; the rows go in in one short one.
        with JobFileAdder(job, quota_left) as adder:
            for name, upload in form.cleaned_data["uploads"]:
                adder.add_upload(upload, name)
            job.name = job.name or _default_name(adder.rows)
            with transaction.atomic():
                job.save()
                form.save_m2m()
                adder.save_rows()
        for row in [row for row in adder.rows if row.status == SearchFile.Status.SKIPPED][:10]:
            messages.warning(self.request, f"{row.original_name}: {row.error}")
        _enqueue(self.request, job)
        return redirect(job)


def _default_name(rows) -> str:
    if not rows:
        return ""
    more = f" + {len(rows) - 1} more" if len(rows) > 1 else ""
    return rows[0].original_name[:150] + more


class JobDetailView(ReadableMixin, DetailView):
    model = SearchJob
    template_name = "searches/job_detail.html"

    def get(self, request, *args, **kwargs):
        fail_stale_jobs()
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        timeline = timeline_context(self.object)
        return {**super().get_context_data(**kwargs), **timeline,
                **progress_context(self.object, timeline["hits_version"]),
                "vehicles_searched": self.object.vehicles.all()}


def progress_context(job, hits_version: str) -> dict:
    waiting = jobs_ahead(job.rq_job_id) if job.status == Status.QUEUED and job.rq_job_id else None
    return {"job": job, "files": file_list(job), "hits_version": hits_version, "jobs_ahead": waiting}


def hits_version(job, loaded_hits=None) -> str:
    """Changes when a hit is added, removed or extended (a parked car's hit grows piece by
    piece): the page fetches the timeline again when the version it last saw differs."""
    if loaded_hits is not None:
        return f"{len(loaded_hits)}-{sum(hit.end_frame for hit in loaded_hits)}"
    seen = job.hits.aggregate(n=Count("pk"), end=Sum("end_frame"))
    return f"{seen['n']}-{seen['end'] or 0}"


def timeline_context(job) -> dict:
    hits = list(job.hits.select_related("vehicle", "file"))
    return {"job": job, "timeline": build_timeline(hits), "hit_count": len(hits),
            "hits_version": hits_version(job, hits)}


def _needs_recovery_check(job) -> bool:
    """Whether fail_stale_jobs() could change anything for this job, judged from the row already
    loaded (no query): its heartbeat is overdue, or it is queued past the grace period and this
    process's periodic check for jobs lost from Redis is due."""
    now = timezone.now()
    if job.status == Status.QUEUED:
        queued_long = job.queued_at is None or job.queued_at < now - timedelta(seconds=QUEUED_GRACE_S)
        return queued_long and lost_job_check_due()
    cutoff = now - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S)
    if job.heartbeat_at is not None:
        return job.heartbeat_at < cutoff
    return job.status == Status.RUNNING and job.started_at is not None and job.started_at < cutoff


class JobProgressView(ReadableMixin, DetailView):
    """htmx fragment polled every second while the job is active; stops once it is finished.

    Hot path (every open job page, every second): session, user, job, hits version, files (bounded,
    see searches.file_list); no write while the job runs; the recovery sweep runs only when it
    could matter for this job. (A COUNT subquery in the job query costs more CPU to compile than
    the separate COUNT query.)
    The hits timeline is a separate fragment, fetched again only when the hits version the page
    last saw (sent back as `hits`, see hits_version) has changed.
    """

    model = SearchJob
    template_name = "searches/_progress.html"

    def get_object(self, queryset=None):
        job = super().get_object(queryset)
        if _needs_recovery_check(job):
            fail_stale_jobs()
            job = super().get_object(queryset)
        return job

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **progress_context(self.object, hits_version(self.object))}

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        if self.request.GET.get("hits", context["hits_version"]) != context["hits_version"]:
            response["HX-Trigger"] = "hits-changed"
        return response


class JobTimelineView(ReadableMixin, DetailView):
    """htmx fragment: the hits of a job per vehicle and file."""

    model = SearchJob
    template_name = "searches/_timeline.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **timeline_context(self.object)}


class JobActionView(LoginRequiredMixin, View):
    """POST pause / resume / cancel."""

    def post(self, request, pk, action):
        job = get_object_or_404(SearchJob, pk=pk, owner=request.user)
        handler = {"pause": self.pause, "resume": self.resume, "cancel": self.cancel}.get(action)
        if handler is None:
            return HttpResponse(status=404)
        handler(request, job)
        if request.headers.get("HX-Request"):
            job.refresh_from_db()
            return render(request, "searches/_progress.html", progress_context(job, hits_version(job)))
        return redirect(job)

    def pause(self, request, job):
        changed = SearchJob.objects.filter(pk=job.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.PAUSED, eta_s=None
        )
        if not changed:
            messages.error(request, "Only a queued or running job can be paused.")

    def resume(self, request, job):
        if job.status not in (Status.PAUSED, Status.FAILED):
            messages.error(request, "Only a paused or failed job can be resumed.")
        elif job.heartbeat_at is not None:
            messages.warning(request, "The worker is still stopping; try again in a moment.")
        else:
            _enqueue(request, job)

    def cancel(self, request, job):
        changed = SearchJob.objects.filter(pk=job.pk, status__in=[Status.QUEUED, Status.RUNNING, Status.PAUSED]).update(
            status=Status.CANCELLED, eta_s=None, finished_at=timezone.now()
        )
        if not changed:
            messages.error(request, "This job has already finished.")
            return
        if job.status != Status.RUNNING:  # no worker will see it: skip the remaining files here
            job.skip_unfinished_files()


class JobDeleteView(OwnedDeleteView):
    """Delete a search that no worker holds (finished, or paused and stopped) with its files (those
    a re-run still uses stay), hits and thumbnails (searches.signals)."""

    model = SearchJob
    template_name = "searches/job_confirm_delete.html"
    success_url = reverse_lazy("searches:list")

    def form_valid(self, form):
        job = self.object
        # Conditional, so a resume from another tab meanwhile cannot lose a job a worker holds.
        deleted, _ = SearchJob.objects.filter(SearchJob.DELETABLE, pk=job.pk).delete()
        if not deleted:
            messages.error(self.request, "Cancel or pause this search, and let it stop, before deleting it.")
            return redirect(job)
        messages.success(self.request, f"Deleted “{job}”.")
        return redirect(self.success_url)


class JobRerunView(JobSettingsMixin, FormView):
    """A new job over the same files with other settings."""

    form_class = SearchSettingsForm
    template_name = "searches/job_rerun.html"

    def dispatch(self, request, *args, **kwargs):
        self.source = get_object_or_404(SearchJob, pk=kwargs["pk"], owner=request.user)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        if self.request.method == "GET":
            kwargs["instance"] = self.source  # prefill; the form never saves onto it
        return kwargs

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "source": self.source}

    def form_valid(self, form):
        with transaction.atomic():
            job = form.save(commit=False)
            job.pk = None
            job.owner, job.rerun_of = self.request.user, self.source
            job.name = job.name or f"Re-run of {self.source}"[:200]
            job.save()
            form.save_m2m()
            JobFileAdder(job).copy_from(self.source)
        _enqueue(self.request, job)
        return redirect(job)


class HitDetailView(ReadableMixin, DetailView):
    model = Hit
    owner_field = "job__owner"
    template_name = "searches/hit_detail.html"

    def get_queryset(self):
        return super().get_queryset().filter(job_id=self.kwargs["job_pk"]).select_related("vehicle", "file", "job")


class HitActionView(LoginRequiredMixin, View):
    """Review a hit (POST): "reject" removes a wrong one; "add-view" makes its best frame a new
    photo of the vehicle, so later searches know the vehicle from that camera and angle."""

    def post(self, request, job_pk, pk, action):
        hit = get_object_or_404(Hit.objects.select_related("vehicle", "file", "job"),
                                pk=pk, job_id=job_pk, job__owner=request.user)
        if action == "reject":
            hit.delete()
            messages.success(request, f"Removed the hit of {hit.vehicle.label} in {hit.file.original_name}.")
            return redirect(hit.job)
        if action != "add-view":
            return HttpResponse(status=404)
        try:
            add_view(hit.vehicle, *_best_frame(hit))
        except (api.EngineError, ValueError) as exc:
            messages.error(request, f"Could not add this view: {exc}")
        else:
            count = hit.vehicle.photos.count()
            messages.success(request, f"Added this view to {hit.vehicle.label} ({count} photos): "
                                      "the next searches use it.")
        return redirect(hit)


def _best_frame(hit):
    """The hit's frame and box. An image is decoded like a registration photo (bounded, in this
    web process), its box scaled to match."""
    if not hit.file.file:
        raise ValueError("the file of this hit is no longer stored")
    with local_path(hit.file.file) as path:
        if hit.file.kind == SearchFile.Kind.VIDEO:
            return api.read_frame(path, hit.best_frame), hit.box
        bgr, pixels = read_photo(path, hit.file.original_name)
    scale = math.sqrt(bgr.shape[0] * bgr.shape[1] / pixels) if pixels else 1.0
    return bgr, [v * scale for v in hit.box]


def export_csv(request, pk):
    job = get_object_or_404(SearchJob, pk=pk, owner=request.user)
    response = HttpResponse(export.to_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="vreid-job-{job.pk}-hits.csv"'
    return response


def export_json(request, pk):
    job = get_object_or_404(SearchJob, pk=pk, owner=request.user)
    response = JsonResponse(export.to_json(job), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="vreid-job-{job.pk}-hits.json"'
    return response


def search_file(request, pk):
    row = owned_or_viewable(request.user, SearchFile, pk, job__owner=request.user)
    return serve_fieldfile(request, row.file)


def hit_thumbnail(request, pk):
    hit = owned_or_viewable(request.user, Hit, pk, job__owner=request.user)
    return serve_fieldfile(request, hit.thumbnail)
