"""Runs the engine over a job's files inside an RQ worker.

All state goes to the database (progress, heartbeat, hits, resume points) and media storage
(thumbnails), so any worker on any machine can continue a paused job. The worker only ever
*reads* the job's status (the web app writes pause/cancel) and writes with guarded updates.
"""
import logging
import time

from django.db.models import Q
from django.utils import timezone

from engine import api
from gallery.models import Vehicle
from gallery.storage_files import jpeg_file, local_path, user_message
from searches.models import Hit, SearchFile, SearchJob

log = logging.getLogger(__name__)
THROTTLE_S = 0.5  # minimum seconds between progress writes / status polls


class StopRequested(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class JobRunner:
    def __init__(self, job: SearchJob, rq_job_id: str, engine, gallery):
        self.job, self.rq_job_id = job, rq_job_id
        self.engine, self.gallery = engine, gallery
        self.vehicles = {v.pk: v for v in Vehicle.objects.filter(owner=job.owner)}
        self.active_files = job.files.exclude(status=SearchFile.Status.SKIPPED).count()
        self.last_write = self.last_poll = 0.0
        self.started = time.monotonic()
        self.start_progress = job.progress
        self.stop_reason = None

    # -- job level -------------------------------------------------------------------------
    def run(self) -> None:
        todo = self.job.files.filter(status__in=[SearchFile.Status.PENDING, SearchFile.Status.RUNNING])
        try:
            for search_file in todo.order_by("position", "pk"):
                if self.should_stop():
                    raise StopRequested(self.stop_reason)
                self.run_file(search_file)
        except StopRequested as stop:
            self.stopped(stop.reason)
            return
        self.finish()

    def jobs(self):
        return SearchJob.objects.filter(pk=self.job.pk)

    def finish(self) -> None:
        failed = self.job.files.filter(status=SearchFile.Status.FAILED).count()
        note = f"{failed} of {self.active_files} files could not be read." if failed else ""
        self.jobs().filter(status=SearchJob.Status.RUNNING, rq_job_id=self.rq_job_id).update(
            status=SearchJob.Status.DONE, progress=1.0, eta_s=None, error=note,
            finished_at=timezone.now(), heartbeat_at=None,
        )

    def stopped(self, reason: str) -> None:
        if reason == "cancel":
            self.job.files.filter(
                status__in=[SearchFile.Status.PENDING, SearchFile.Status.RUNNING]
            ).update(status=SearchFile.Status.SKIPPED, error="Cancelled")
            self.jobs().update(finished_at=timezone.now(), eta_s=None)
        self.jobs().filter(rq_job_id=self.rq_job_id).update(heartbeat_at=None, eta_s=None)

    def should_stop(self, force: bool = False):
        """Polled by the engine: "pause"/"cancel" once the user asked (read at most every 0.5 s)."""
        if self.stop_reason:
            return self.stop_reason
        now = time.monotonic()
        if not force and now - self.last_poll < THROTTLE_S:
            return None
        self.last_poll = now
        status, rq_job_id = self.jobs().values_list("status", "rq_job_id").get()
        if status == SearchJob.Status.CANCELLED:
            self.stop_reason = "cancel"
        elif status != SearchJob.Status.RUNNING or rq_job_id != self.rq_job_id:
            self.stop_reason = "pause"  # paused, or superseded by a newer RQ job for this job
        else:
            self.jobs().filter(status=SearchJob.Status.RUNNING).update(heartbeat_at=timezone.now())
        return self.stop_reason

    # -- file level ------------------------------------------------------------------------
    def run_file(self, search_file: SearchFile) -> None:
        self.current = search_file
        # Hits from an earlier, interrupted pass over the part we are about to redo would repeat.
        search_file.hits.filter(start_frame__gte=search_file.resume_frame).delete()
        search_file.status = SearchFile.Status.RUNNING
        search_file.save(update_fields=["status"])
        try:
            with local_path(search_file.file) as path:
                info = api.probe(path)
                self.record_media_info(search_file, info)
                if info.kind == "image":
                    self.search_image(search_file, path)
                else:
                    self.search_video(search_file, path)
        except api.Interrupted as exc:
            search_file.resume_frame = exc.resume_frame
            search_file.status = SearchFile.Status.PENDING if exc.reason == "pause" else SearchFile.Status.SKIPPED
            search_file.save(update_fields=["resume_frame", "status"])
            raise StopRequested(exc.reason) from exc
        except api.EngineError as exc:
            self.file_failed(search_file, user_message(exc, search_file.file.name, search_file.original_name))
        except OSError as exc:
            log.warning("job %s file %s: %s", self.job.pk, search_file.pk, exc)
            self.file_failed(search_file, "The stored file could not be read.")
        except Exception:
            log.exception("job %s file %s failed", self.job.pk, search_file.pk)
            self.file_failed(search_file, "Internal error while processing this file (see the worker log).")
        else:
            search_file.status, search_file.progress = SearchFile.Status.DONE, 1.0
            search_file.save(update_fields=["status", "progress"])
        self.write_job_progress(force=True)

    def file_failed(self, search_file: SearchFile, message: str) -> None:
        search_file.status, search_file.error = SearchFile.Status.FAILED, message
        search_file.save(update_fields=["status", "error"])

    def record_media_info(self, search_file: SearchFile, info) -> None:
        search_file.width, search_file.height = info.width, info.height
        search_file.fps, search_file.duration_s = info.fps or None, info.duration_s or None
        search_file.frames_total = info.frame_count or None
        search_file.kind = info.kind
        search_file.save(update_fields=["width", "height", "fps", "duration_s", "frames_total", "kind"])

    def search_image(self, search_file: SearchFile, path: str) -> None:
        bgr = api.read_image(path)
        result = self.engine.search_image(bgr, self.gallery, threshold=self.job.threshold)
        for hit in result.hits:
            self.store_hit(search_file, hit.gallery_id, hit.distance, hit.box, bgr, dict(
                start_s=0.0, end_s=0.0, best_time_s=0.0, best_frame=0, start_frame=0, end_frame=0,
            ))

    def search_video(self, search_file: SearchFile, path: str) -> None:
        options = api.VideoOptions(
            frame_stride=self.job.frame_stride, tracking=self.job.tracking, threshold=self.job.threshold,
            proposals=self.job.proposals, start_frame=search_file.resume_frame,
        )
        self.engine.search_video(
            path, self.gallery, options,
            on_progress=lambda progress: self.on_progress(search_file, progress),
            on_interval=lambda interval: self.on_interval(search_file, interval),
            should_stop=self.should_stop,
        )

    # -- engine callbacks ------------------------------------------------------------------
    def on_interval(self, search_file: SearchFile, interval) -> None:
        self.store_hit(search_file, interval.gallery_id, interval.best_distance, interval.box, interval.frame, dict(
            start_s=interval.start_s, end_s=interval.end_s, best_time_s=interval.best_time_s,
            best_frame=interval.best_frame, start_frame=interval.start_frame, end_frame=interval.end_frame,
        ))

    def on_progress(self, search_file: SearchFile, progress) -> None:
        search_file.progress = progress.fraction
        search_file.frames_done = progress.frames_done
        if progress.frames_total:
            search_file.frames_total = progress.frames_total
        self.speed_fps, self.file_eta = progress.fps, progress.eta_s
        if time.monotonic() - self.last_write >= THROTTLE_S:
            search_file.save(update_fields=["progress", "frames_done", "frames_total"])
            self.write_job_progress()

    def store_hit(self, search_file, vehicle_id, distance, box, bgr, times) -> None:
        vehicle = self.vehicles.get(int(vehicle_id))
        if vehicle is None:  # deleted while the job ran
            return
        hit = Hit(job=self.job, file=search_file, vehicle=vehicle, distance=float(distance),
                  box=[round(float(v), 1) for v in box], **times)
        if bgr is not None:
            drawn = api.draw_boxes(bgr, [tuple(box)], [f"{vehicle.label} {distance:.2f}"])
            hit.thumbnail.save("hit.jpg", jpeg_file(api.encode_jpeg(drawn, max_side=480)), save=False)
        hit.save()

    def write_job_progress(self, force: bool = False) -> None:
        self.last_write = time.monotonic()
        finished = self.job.files.filter(status__in=[SearchFile.Status.DONE, SearchFile.Status.FAILED]).count()
        current = getattr(self, "current", None)
        partial = current.progress if current is not None and current.status == SearchFile.Status.RUNNING else 0.0
        overall = 1.0 if not self.active_files else min(1.0, (finished + partial) / self.active_files)
        elapsed = time.monotonic() - self.started
        gained = overall - self.start_progress
        eta = elapsed * (1.0 - overall) / gained if gained > 0.01 and elapsed > 1 else None
        self.jobs().filter(status=SearchJob.Status.RUNNING, rq_job_id=self.rq_job_id).update(
            progress=overall, eta_s=eta, speed_fps=getattr(self, "speed_fps", None),
            heartbeat_at=timezone.now(),
        )
