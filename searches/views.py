"""Search job pages: create, watch (htmx polling), control, results, exports, media."""
import logging

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.messages import get_messages
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views import View
from django.views.generic import DeleteView, DetailView, FormView, ListView
from django.views.generic.detail import SingleObjectMixin

from engine import api
from gallery.boxes import percent_box
from gallery.engine_cache import get_engine
from gallery.files import serve_fieldfile
from gallery.queries import count_of
from gallery.views import OwnedDeleteView, OwnedMixin, ReadableMixin, owned_or_viewable
from searches import export, lifecycle, progress_cache, review
from searches.footage import rerank
from searches.forms import NewSearchForm, SearchSettingsForm
from searches.models import Hit, SearchFile, SearchJob
from searches.progress_cache import hits_version, progress_context
from searches.queueing import QueueUnavailable
from searches.staleness import fail_stale_jobs, needs_recovery_check, recovery_due
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


def _apply(request, transition, job) -> bool:
    """A searches.lifecycle transition: whether it happened. A job queue that does not answer is
    said on the page (the transition failed the job with that reason)."""
    try:
        return transition(job)
    except QueueUnavailable:
        messages.error(request, "The job queue could not be reached. Is Redis running?")
        return True


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
        with JobFileAdder(job, quota_left, form.upload_footage(self.request.user)) as adder:
            for name, upload in form.cleaned_data["uploads"]:
                adder.add_upload(upload, name)
            job.name = job.name or adder.default_name()
            with transaction.atomic():
                job.save()
                form.save_m2m()
                adder.save_rows()
        for row in [row for row in adder.rows if row.status == SearchFile.Status.SKIPPED][:10]:
            messages.warning(self.request, f"{row.original_name}: {row.error}")
        _apply(self.request, lifecycle.queue, job)
        return redirect(job)


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


def progress_fragment(request, job):
    """The progress fragment rendered from the database for this request (with its messages),
    telling the page to fetch the timeline again (HX-Trigger) when the hits changed since the
    version the page last saw (sent back as `hits`, see hits_version)."""
    version = hits_version(job)
    response = render(request, "searches/_progress.html", progress_context(job, version))
    seen = request.POST.get("hits") or request.GET.get("hits") or version
    if seen != version:
        response["HX-Trigger"] = "hits-changed"
    return response


def snapshot_response(request, snap: dict):
    """The poll's answer from the snapshot (progress_cache.answer) for a request whose session
    was checked: a fragment it sends carries a new poll token, and a page whose token has run
    out gets the fragment again even when nothing changed, for the new token (searches.fast_poll
    answers its polls again)."""
    query = request.GET
    if query.get("t") and not progress_cache.token_valid(snap["pk"], snap["owner"], query["t"]):
        query = {"hits": query.get("hits", "")}  # not "unchanged": the page needs a new token
    status, headers, body = progress_cache.answer(
        snap, query, request.headers.get("If-None-Match", ""), bool(request.headers.get("HX-Request")),
        progress_cache.poll_token(snap["pk"], snap["owner"]))
    if status == 304:
        return HttpResponseNotModified(headers=headers)
    return HttpResponse(body, status=status, headers=headers)


def timeline_context(job) -> dict:
    hits = list(job.hits.select_related("vehicle", "file__footage__camera"))
    return {"job": job, "timeline": build_timeline(hits), "hit_count": len(hits),
            "hits_version": hits_version(job, hits)}


def _has_messages(request) -> bool:
    """Messages waiting for this request (read, not consumed): the fragment then carries them."""
    return len(get_messages(request)) > 0


class JobProgressView(ReadableMixin, SingleObjectMixin, View):
    """htmx fragment polled every second until the job is settled (see SearchJob.is_settled: after
    a pause or cancel, until its worker has stopped and stored what it found).

    Hot path (every open job page, every second): answered before Django's middleware from the
    snapshot while the page's poll token is fresh (searches.fast_poll); here, session, user, and
    one cache read of the job's progress snapshot (searches.progress_cache), owned by this user;
    204/304 when the page already has that version. No job query and no write. The database is
    read (and the snapshot written again) only when the snapshot is missing, stale or foreign,
    when the recovery sweep could matter for this job (judged from the snapshot), or to show
    messages.
    """

    model = SearchJob

    def get(self, request, *args, **kwargs):
        try:
            snap, gen = progress_cache.read(self.kwargs["pk"])
        except Exception as exc:  # Redis away: the database answers
            log.warning("progress snapshot unavailable: %s", exc)
            snap, gen = None, None
        if snap is not None and snap["owner"] != request.user.id:
            snap = None  # the database says 404 (or the snapshot was stale)
        if snap is not None and not recovery_due(snap) and not _has_messages(request):
            return snapshot_response(request, snap)
        job = self.get_object()  # read after the generation: publish() below may use both
        if needs_recovery_check(job.status, job.queued_at, job.heartbeat_at, job.started_at):
            fail_stale_jobs()
            snap = progress_cache.publish(job.pk)  # after a new generation, read again
        else:
            snap = progress_cache.publish(job.pk, job, gen)
        if snap is None:
            raise Http404("no such search")
        if _has_messages(request):
            return progress_fragment(request, snap["job"])
        return snapshot_response(request, snap)


class JobTimelineView(ReadableMixin, DetailView):
    """htmx fragment: the hits of a job per vehicle and file."""

    model = SearchJob
    template_name = "searches/_timeline.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **timeline_context(self.object)}


class JobActionView(OwnedMixin, SingleObjectMixin, View):
    """POST pause / resume / cancel, through searches.lifecycle; a request that lost a race (the
    job changed since the page showed the button) changes nothing and says why."""

    model = SearchJob
    transitions = {"pause": lifecycle.pause, "resume": lifecycle.resume, "cancel": lifecycle.cancel}

    def post(self, request, pk, action):
        if action not in self.transitions:
            raise Http404("no such action")
        happened = _apply(request, self.transitions[action], self.get_object())
        job = SearchJob.objects.filter(pk=self.kwargs["pk"]).first()
        if job is None:  # deleted meanwhile (another tab)
            messages.warning(request, "This search was deleted.")
            return _redirect(request, reverse("searches:list"))
        if not happened:
            messages.error(request, _refusal(action, job))
        if request.headers.get("HX-Request"):
            return progress_fragment(request, job)
        return redirect(job)


def _refusal(action: str, job) -> str:
    if action == "resume" and job.status in SearchJob.GUARDS["resume"]["status__in"]:
        return "The worker is still stopping; try again in a moment."
    return {
        "pause": "Only a queued or running job can be paused.",
        "resume": "Only a paused or failed job can be resumed.",
        "cancel": "This job has already finished.",
    }[action]


def _redirect(request, url: str):
    """A redirect that htmx follows with the whole page, not inside the fragment."""
    if request.headers.get("HX-Request"):
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


class JobDeleteView(OwnedDeleteView):
    """Delete a search that no worker holds (finished, or paused and stopped) with its files (those
    a re-run still uses stay), hits and thumbnails (searches.signals)."""

    model = SearchJob
    template_name = "searches/job_confirm_delete.html"
    success_url = reverse_lazy("searches:list")

    def form_valid(self, form):
        job = self.object
        # Conditional, so a resume from another tab meanwhile cannot lose a job a worker holds.
        if not lifecycle.delete(job):
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

    def get_initial(self):
        return {"name": self.rerun_name()}

    def rerun_name(self) -> str:
        return f"Re-run of {self.source}"[:200]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "source": self.source}

    def form_valid(self, form):
        with transaction.atomic():
            job = form.save(commit=False)
            job.pk = None
            job.owner, job.rerun_of = self.request.user, self.source
            job.name = job.name or self.rerun_name()
            job.save()
            form.save_m2m()
            JobFileAdder(job).copy_from(self.source)
        _apply(self.request, lifecycle.queue, job)
        return redirect(job)


class OwnedHitMixin(OwnedMixin):
    model = Hit
    owner_field = "job__owner"

    def get_queryset(self):
        hits = super().get_queryset().filter(job_id=self.kwargs["job_pk"])
        return hits.select_related("vehicle", "file__footage__camera", "job")


class HitDetailView(ReadableMixin, OwnedHitMixin, DetailView):
    template_name = "searches/hit_detail.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "box": box_percent(self.object)}


def box_percent(hit) -> dict | None:
    """The hit's box in percent of its frame, to outline it over the playing video."""
    if not hit.file.width or not hit.file.height:
        return None
    return percent_box(hit.box, hit.file.width, hit.file.height)


class HitConfirmView(OwnedHitMixin, SingleObjectMixin, View):
    """POST "Yes, this is …": the hit's frame becomes a photo of the vehicle, once."""

    def post(self, request, *args, **kwargs):
        hit = self.get_object()
        try:
            added = review.confirm_hit(hit)
        except (api.EngineError, ValueError) as exc:
            messages.error(request, f"Could not add this view: {exc}")
        else:
            if added:
                messages.success(request, f"Added this view to {hit.vehicle.label} ({hit.vehicle.photos.count()} "
                                          f"photos): the next searches use it. {rerank.after_review(hit.job, hit.vehicle)}")
            else:
                messages.info(request, f"This view is already one of {hit.vehicle.label}'s photos.")
        return redirect(hit)


class HitRejectView(OwnedHitMixin, DeleteView):
    """"Not this vehicle", after a confirmation page: the hit is removed (searches.review)."""

    template_name = "searches/hit_confirm_reject.html"

    def form_valid(self, form):
        hit = self.object
        review.reject_hit(hit)
        messages.success(self.request, f"Removed the hit of {hit.vehicle.label} in {hit.file.original_name}. "
                                       f"{rerank.after_review(hit.job, hit.vehicle)}")
        return redirect(hit.job)


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
