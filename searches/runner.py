"""Runs the engine over a job's files inside an RQ worker.

All state goes to the database (progress, heartbeat, hits, resume points) and media storage
(thumbnails), so any worker on any machine can continue a paused job. The runner changes the
job's status only through searches.lifecycle, and writes progress with guarded updates: once
the job was re-queued under another RQ id (by the user, or by recovery after this worker looked
dead), nothing this runner writes lands any more, and it stops at its next status poll.

Crash safety: every progress write also saves the file's checkpoint (`resume_frame`, the engine's
Progress.resume_frame: every interval before it has already been stored as a hit), so a killed
worker loses only the work since the last write (0.5 s) plus at most one segment (60 s) of a
vehicle still in view; a resumed pass's hits are joined with the stored ones. Database
writes ride out a short outage (searches/dbretry.py); a longer one ends the run and leaves the job
to recovery (searches/staleness.py).

Each progress write and each hit also publishes the job's progress snapshot for the polling pages
(searches.progress_cache), read back from the database.
"""
import logging
import time

from django.db.models import Sum
from django.utils import timezone

from engine import api
from gallery.engine_cache import embedder_name
from gallery.profiles import vehicle_profiles
from gallery.storage_files import local_path, user_message
from searches import lifecycle, progress_cache
from searches.dbretry import TRANSIENT, DatabaseUnavailable, with_db_retry
from searches.footage.answer import IndexAnswers, job_options
from searches.footage.store import SightingWriter, footage_for, index_plan, record_media
from searches.hit_store import HitStore, hit_picture, interval_times
from searches.models import SearchFile, SearchJob

log = logging.getLogger(__name__)
THROTTLE_S = 0.5  # minimum seconds between progress writes / status polls


class StopRequested(Exception):
    def __init__(self, reason: lifecycle.StopReason):
        super().__init__(reason)
        self.reason = reason


class JobRunner:
    def __init__(self, job: SearchJob, rq_job_id: str, engine, gallery):
        self.job, self.rq_job_id = job, rq_job_id
        self.engine, self.gallery = engine, gallery
        self.hits = HitStore(job, rq_job_id, embedder_name(engine) if engine else "")
        self.profiles = vehicle_profiles(gallery.ids(), engine) if gallery is not None else {}
        self.active_files = job.files.exclude(status=SearchFile.Status.SKIPPED).count()
        self.last_write = self.last_poll = self.last_publish = 0.0
        self.started = time.monotonic()
        self.start_progress, self.start_elapsed = job.progress, job.elapsed_s
        self.stop_reason = None
        self.index_answers = IndexAnswers(job, engine, gallery, self.options(), self.profiles) if engine else None
        self.writer = None

    # -- job level -------------------------------------------------------------------------
    def run(self) -> None:
        todo = self.job.files.filter(status__in=[SearchFile.Status.PENDING, SearchFile.Status.RUNNING])
        todo = with_db_retry(lambda: list(todo.order_by("position", "pk")), what="listing files")
        try:
            for search_file in todo:
                if self.should_stop():
                    raise StopRequested(self.stop_reason)
                self.run_file(search_file)
        except StopRequested as stop:
            self.stopped(stop.reason)
            return
        self.finish()

    def jobs(self):
        return SearchJob.objects.filter(pk=self.job.pk)

    def mine(self):
        """This job while this runner still owns it (running under our RQ id)."""
        return SearchJob.running_under(self.job.pk, self.rq_job_id)

    def update_file(self, search_file: SearchFile, **fields) -> int:
        """Guarded, retried update of one file row (nothing lands once the job was re-queued)."""
        rows = SearchFile.objects.filter(pk=search_file.pk, job__rq_job_id=self.rq_job_id)
        return with_db_retry(rows.update, **fields, what=f"updating file {search_file.pk}")

    def elapsed_s(self) -> float:
        """Seconds this job has been searched, over all its runs."""
        return self.start_elapsed + time.monotonic() - self.started

    def finish(self) -> None:
        with_db_retry(self._finish, what=f"finishing job {self.job.pk}")

    def _finish(self) -> None:
        failed = self.job.files.filter(status=SearchFile.Status.FAILED).count()
        notes = [f"{failed} of {self.active_files} files could not be read."] if failed else []
        if self.gallery is not None and not len(self.gallery):
            notes.append("No vehicles to look for: the footage was indexed. Register a vehicle, then search your footage.")
        recoveries = self.jobs().values_list("recoveries", flat=True).get()
        if recoveries:
            notes.append(f"Resumed automatically {recoveries} time{'s' if recoveries > 1 else ''} "
                         "after its worker stopped.")
        elapsed = self.elapsed_s()
        frames = self.job.files.aggregate(n=Sum("frames_done"))["n"]
        lifecycle.finish(self.job.pk, self.rq_job_id, " ".join(notes), elapsed_s=elapsed,
                         speed_fps=frames / elapsed if frames and elapsed > 0 else None)

    def stopped(self, reason: lifecycle.StopReason) -> None:
        with_db_retry(self._stopped, reason, what=f"stopping job {self.job.pk}")

    def _stopped(self, reason: lifecycle.StopReason) -> None:
        self.jobs().filter(rq_job_id=self.rq_job_id).update(elapsed_s=self.elapsed_s())
        lifecycle.let_go(self.job.pk, self.rq_job_id, reason)

    def should_stop(self, force: bool = False) -> lifecycle.StopReason | None:
        """Polled by the engine: why to stop, once the user asked (read at most every 0.5 s)."""
        if self.stop_reason:
            return self.stop_reason
        now = time.monotonic()
        if not force and now - self.last_poll < THROTTLE_S:
            return None
        self.last_poll = now
        with_db_retry(self._poll, what=f"polling job {self.job.pk}")
        return self.stop_reason

    def _poll(self) -> None:
        self.stop_reason = lifecycle.stop_reason(self.job.pk, self.rq_job_id)
        if self.stop_reason is None:
            self.mine().update(heartbeat_at=timezone.now())

    # -- file level ------------------------------------------------------------------------
    def run_file(self, search_file: SearchFile) -> None:
        self.current = search_file
        self.file_started = time.monotonic() - search_file.elapsed_s
        # Resuming from the checkpoint: hits stored before it stay; one found again by this pass
        # (stored just before a crash, ahead of the next checkpoint write) is not stored twice.
        search_file.status = SearchFile.Status.RUNNING
        self.update_file(search_file, status=search_file.status)
        self.publish()
        self.writer = None
        try:
            footage = footage_for(search_file)
            from_index, why = index_plan(footage, self.engine.models, embedder_name(self.engine), self.job.frame_stride)
            source = SearchFile.Source.INDEX if from_index else SearchFile.Source.PROCESSED
            self.update_file(search_file, source=source, source_note=why)
            if from_index:
                self.answer_from_index(search_file, footage)
            else:
                self.process(search_file, footage)
        except api.Interrupted as exc:
            reason = lifecycle.StopReason(exc.reason)
            search_file.resume_frame = exc.resume_frame
            paused = reason == lifecycle.StopReason.PAUSE
            search_file.status = SearchFile.Status.PENDING if paused else SearchFile.Status.CANCELLED
            self.update_file(search_file, resume_frame=search_file.resume_frame, status=search_file.status,
                             elapsed_s=self.file_elapsed_s())
            self.release_footage()
            raise StopRequested(reason) from exc
        except (DatabaseUnavailable, *TRANSIENT):
            raise  # not this file's fault: the job is left to recovery
        except api.EngineError as exc:
            self.file_failed(search_file, user_message(exc, search_file.file.name, search_file.original_name))
        except OSError as exc:
            log.warning("job %s file %s: %s", self.job.pk, search_file.pk, exc)
            self.file_failed(search_file, "The stored file could not be read.")
        except Exception:
            log.exception("job %s file %s failed", self.job.pk, search_file.pk)
            self.file_failed(search_file, "Internal error while processing this file (see the worker log).")
        else:
            self.release_footage(complete=True)
            search_file.status, search_file.progress = SearchFile.Status.DONE, 1.0
            self.update_file(search_file, status=search_file.status, progress=1.0, elapsed_s=self.file_elapsed_s())
        self.write_job_progress()

    def process(self, search_file: SearchFile, footage) -> None:
        """Search the file itself (detector, tracker, embedder), indexing what it sees."""
        with local_path(search_file.file) as path:
            info = api.probe(path)
            self.record_media_info(search_file, info)
            record_media(footage, info)
            self.writer = SightingWriter(footage, search_file.pk, self.engine.models, embedder_name(self.engine),
                                         self.job.frame_stride, start_frame=search_file.resume_frame)
            if info.kind == "image":
                self.search_image(search_file, path)
            else:
                self.search_video(search_file, path)

    def answer_from_index(self, search_file: SearchFile, footage) -> None:
        """Hits from the file's stored sightings (searches.footage.answer): no video is read."""
        hits, refusals, rows = self.index_answers.answer(footage)
        self.update_file(search_file, vehicles_seen=footage.sightings_count, kind=footage.kind,
                         fps=footage.fps, duration_s=footage.duration_s)
        for found in hits:
            if self.hits.answered(search_file, found, rows):
                self.publish(force=True)
        for _, refusal in refusals:
            self.on_refusal(search_file, refusal)

    def file_elapsed_s(self) -> float:
        """Seconds the current file has been searched, over all its passes."""
        return time.monotonic() - self.file_started

    def release_footage(self, complete: bool = False) -> None:
        if self.writer:
            self.writer.finish(complete)

    def file_failed(self, search_file: SearchFile, message: str) -> None:
        self.release_footage()
        search_file.status, search_file.error = SearchFile.Status.FAILED, message
        self.update_file(search_file, status=search_file.status, error=message, elapsed_s=self.file_elapsed_s())

    def record_media_info(self, search_file: SearchFile, info) -> None:
        search_file.width, search_file.height = info.width, info.height
        search_file.fps, search_file.duration_s = info.fps or None, info.duration_s or None
        search_file.frames_total = info.frame_count or None
        search_file.kind = info.kind
        self.update_file(search_file, width=info.width, height=info.height, fps=search_file.fps,
                         duration_s=search_file.duration_s, frames_total=search_file.frames_total, kind=info.kind)

    def options(self, start_frame: int = 0, camera=None) -> "api.VideoOptions":
        return job_options(self.job, start_frame, camera)

    def search_image(self, search_file: SearchFile, path: str) -> None:
        bgr = api.read_image(path)
        result = self.engine.search_image(bgr, self.gallery, self.options(), profiles=self.profiles)
        self.update_file(search_file, vehicles_seen=len(result.detections))
        for sighting in result.sightings:
            self.writer.add(sighting)
        for hit in result.hits:
            self.store_hit(search_file, hit.gallery_id, hit.distance, hit.box, bgr, dict(
                start_s=0.0, end_s=0.0, best_time_s=0.0, best_frame=0, start_frame=0, end_frame=0,
            ), vector=hit.vector, attributes=hit.attributes)
        for refusal in result.refusals:
            self.on_refusal(search_file, refusal)

    def search_video(self, search_file: SearchFile, path: str) -> None:
        options = self.options(search_file.resume_frame, search_file.footage and search_file.footage.camera)
        result = self.engine.search_video(
            path, self.gallery, options,
            on_progress=lambda progress: self.on_progress(search_file, progress),
            on_interval=lambda interval: self.on_interval(search_file, interval),
            should_stop=self.should_stop, profiles=self.profiles,
            on_refusal=lambda refusal: self.on_refusal(search_file, refusal), on_sighting=self.writer.add,
        )
        if options.start_frame == 0 and options.tracking:  # one whole pass: its tracks are the vehicles
            self.update_file(search_file, vehicles_seen=result.stats.tracks)

    # -- engine callbacks ------------------------------------------------------------------
    def on_interval(self, search_file: SearchFile, interval) -> None:
        self.store_hit(search_file, interval.gallery_id, interval.best_distance, interval.box, interval.frame,
                       interval_times(interval), interval.frame_scale, interval.vector, interval.attributes)

    def on_refusal(self, search_file: SearchFile, refusal) -> None:
        """Keep a refused near-match for staff to see why it is not a hit (a few per file)."""
        self.hits.near_miss(search_file, refusal)

    def on_progress(self, search_file: SearchFile, progress) -> None:
        search_file.progress = progress.fraction
        search_file.frames_done = progress.frames_done
        if progress.frames_total:
            search_file.frames_total = progress.frames_total
        checkpoint = getattr(progress, "resume_frame", None)
        if checkpoint is not None and checkpoint > search_file.resume_frame:
            search_file.resume_frame = checkpoint
        self.speed_fps = progress.fps
        if time.monotonic() - self.last_write >= THROTTLE_S:
            self.update_file(search_file, progress=search_file.progress, frames_done=search_file.frames_done,
                             frames_detected=progress.frames_detected, frames_skipped=progress.frames_skipped,
                             frames_total=search_file.frames_total, resume_frame=search_file.resume_frame,
                             elapsed_s=self.file_elapsed_s(), speed_fps=progress.fps or None)
            self.write_job_progress()

    def store_hit(self, search_file, vehicle_id, distance, box, bgr, times, frame_scale: float = 1.0,
                  vector=None, attributes=None) -> None:
        """Store one hit (searches.hit_store); its thumbnail: the frame `bgr` (if any) with the box drawn."""
        def picture(label):
            return hit_picture(bgr, box, frame_scale, label) if bgr is not None else None
        if self.hits.hit(search_file, vehicle_id, distance, box, times, picture, vector, attributes):
            self.publish(force=True)
            self.last_write = 0.0  # the next progress write (with the checkpoint past this hit) goes out now

    def write_job_progress(self) -> None:
        self.last_write = time.monotonic()
        with_db_retry(self._write_job_progress, what=f"writing progress of job {self.job.pk}")
        self.publish(force=True)

    def publish(self, force: bool = False) -> None:
        """The job's progress snapshot for the polling pages (searches.progress_cache), read back
        from the database; at most every THROTTLE_S unless forced (progress writes, hits)."""
        now = time.monotonic()
        if not force and now - self.last_publish < THROTTLE_S:
            return
        self.last_publish = now
        try:
            with_db_retry(progress_cache.publish, self.job.pk, what=f"publishing progress of job {self.job.pk}")
        except (DatabaseUnavailable, *TRANSIENT):
            raise
        except Exception:  # the pages fall back to the database: not worth failing the search for
            log.exception("job %s: progress snapshot not published", self.job.pk)

    def _write_job_progress(self) -> None:
        finished = self.job.files.filter(status__in=[SearchFile.Status.DONE, SearchFile.Status.FAILED]).count()
        current = getattr(self, "current", None)
        partial = current.progress if current is not None and current.status == SearchFile.Status.RUNNING else 0.0
        overall = 1.0 if not self.active_files else min(1.0, (finished + partial) / self.active_files)
        elapsed = time.monotonic() - self.started
        gained = overall - self.start_progress
        eta = elapsed * (1.0 - overall) / gained if gained > 0.01 and elapsed > 1 else None
        self.mine().update(progress=overall, eta_s=eta, speed_fps=getattr(self, "speed_fps", None),
                           elapsed_s=self.elapsed_s(), heartbeat_at=timezone.now())
