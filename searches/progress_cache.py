"""Each job's progress snapshot in the cache (Redis), so the page that polls it every second costs
about what a bare authenticated view costs.

The database stays the source of truth: a snapshot is only ever built from a fresh read of it
(`publish`), by the worker whenever it writes progress or a hit, or by a poll that found none.
What it holds: the owner (the poll's ownership check), the status and the figures the recovery
check needs, percent, ETA, frames/s, the hits version, the counts per file status and the bounded
file rows (searches.file_list), and the fragment's HTML rendered from them with its version (a
hash of that HTML: the ETag, and `v` in the fragment's hx-vals).

Staleness. Every change of a job that does not come from its worker's own progress writes
(searches.lifecycle's transitions, a notice, hits saved or deleted, a job saved or deleted) calls
`changed(pk)`, which gives the job a new random generation in the cache. A snapshot records the
generation it read *before* its database read, and the poll trusts it only while that is still
the current one (both keys come in one MGET): a snapshot built from a read that may predate a
transition is never served after it. A snapshot also expires (SNAPSHOT_TTL_S; QUEUED_TTL_S for a
queued job, whose "searches ahead" comes from the RQ queue), and a missing, foreign or stale one
makes the poll read the database and write the snapshot again. Redis away: polls read the
database, workers carry on without publishing.
"""
import hashlib
import logging
import uuid

from django.core.cache import cache
from django.core.signing import BadSignature, TimestampSigner
from django.db.models import Count, Sum
from django.template.loader import render_to_string

from searches.file_list import file_list
from searches.models import SearchJob
from searches.queueing import jobs_ahead

log = logging.getLogger(__name__)
SNAPSHOT_TTL_S = 60  # a lost invalidation (Redis away at that moment) heals within this
QUEUED_TTL_S = 5  # a queued job's place in the queue moves without any write of its own
GEN_TTL_S = 24 * 3600
TEMPLATE = "searches/_progress.html"
_VERSION_SLOT = "@@progress-version@@"
_TOKEN_SLOT = "@@poll-token@@"
_SIGNER = TimestampSigner(salt="vreid.progress-poll")
POLL_TOKEN_TTL_S = 600


def snapshot_key(pk: int) -> str:
    return f"job-progress:{pk}"


def gen_key(pk: int) -> str:
    return f"job-progress-gen:{pk}"


def hits_version(job, loaded_hits=None) -> str:
    """Changes when a hit is added, removed or extended (a parked car's hit grows piece by
    piece): the page fetches the timeline again when the version it last saw differs."""
    if loaded_hits is not None:
        return f"{len(loaded_hits)}-{sum(hit.end_frame for hit in loaded_hits)}"
    seen = job.hits.aggregate(n=Count("pk"), end=Sum("end_frame"))
    return f"{seen['n']}-{seen['end'] or 0}"


def progress_context(job, hits: str) -> dict:
    waiting = jobs_ahead(job.rq_job_id) if job.status == SearchJob.Status.QUEUED and job.rq_job_id else None
    return {"job": job, "files": file_list(job), "hits_version": hits, "jobs_ahead": waiting,
            "poll_token": poll_token(job.pk, job.owner_id)}


def poll_token(pk: int, owner: int) -> str:
    """What the fragment sends back as `t` with each poll: job and owner, signed and dated. While
    it is younger than POLL_TOKEN_TTL_S it lets searches.fast_poll answer the poll without the
    session; only a view that checked the session hands out a new one (a copied page stops
    working within the TTL, a logout too)."""
    return _SIGNER.sign(f"{pk}.{owner}")


def token_valid(pk: int, owner: int, token: str) -> bool:
    try:
        return _SIGNER.unsign(token, max_age=POLL_TOKEN_TTL_S) == f"{pk}.{owner}"
    except BadSignature:  # forged, or expired (SignatureExpired)
        return False


def fragment_html(snap: dict, token: str) -> str:
    """The snapshot's fragment with the poll token it is to carry (kept out of its version)."""
    return snap["html"].replace(_TOKEN_SLOT, token)


def answer(snap: dict, query, if_none_match: str, htmx: bool, token: str) -> tuple[int, dict, str]:
    """The poll's answer from the snapshot: (status, headers, body). Nothing changed since the
    page's copy: 204 to htmx (it swaps nothing and keeps polling; the copy sends its version as
    `v`), 304 to a client that sent the ETag in If-None-Match; else 200 with the fragment, which
    carries `token`. A copy behind on hits also gets HX-Trigger: the page fetches the timeline."""
    headers = {"ETag": f'"{snap["version"]}"', "Cache-Control": "private, no-cache"}
    if (query.get("hits") or snap["hits"]) == snap["hits"]:
        if query.get("v") == snap["version"] and htmx:
            return 204, headers, ""
        if snap["version"] in if_none_match:
            return 304, headers, ""
    else:
        headers["HX-Trigger"] = "hits-changed"
    return 200, headers, fragment_html(snap, token)


def changed(pk: int) -> None:
    """Job `pk` changed in the database other than by its worker's progress: its snapshot is
    no longer trusted (a new generation). Call it after the change is committed."""
    try:
        cache.set(gen_key(pk), uuid.uuid4().hex[:12], GEN_TTL_S)
    except Exception as exc:  # Redis away: the snapshot expires within SNAPSHOT_TTL_S
        log.warning("job %s: could not invalidate its progress snapshot: %s", pk, exc)


def read(pk: int) -> tuple[dict | None, str | None]:
    """The job's snapshot if there is one of the current generation, and that generation (one
    cache round trip): a caller that reads the database after this may publish(pk, job, gen)."""
    found = cache.get_many([snapshot_key(pk), gen_key(pk)])
    snap, gen = found.get(snapshot_key(pk)), found.get(gen_key(pk))
    if snap is None or snap.get("gen") != gen or "pk" not in snap:  # (no "pk": written by older code)
        return None, gen
    return snap, gen


def build(job: SearchJob, gen=None) -> dict:
    """The snapshot of `job` as loaded (with its files and hits read now)."""
    hits = hits_version(job)
    context = progress_context(job, hits)
    context["progress_version"], context["poll_token"] = _VERSION_SLOT, _TOKEN_SLOT
    html = render_to_string(TEMPLATE, context)
    version = hashlib.blake2b(html.encode(), digest_size=9).hexdigest()
    files = context["files"]
    return {
        "gen": gen, "version": version, "html": html.replace(_VERSION_SLOT, version),
        "pk": job.pk, "owner": job.owner_id, "status": job.status, "settled": job.is_settled,
        "percent": job.progress_percent, "eta_s": job.eta_s, "speed_fps": job.speed_fps,
        "hits": hits, "jobs_ahead": context["jobs_ahead"],
        "heartbeat_at": job.heartbeat_at, "queued_at": job.queued_at, "started_at": job.started_at,
        "counts": dict(files.counts), "total": files.total, "bounded": files.bounded,
        "rows": [{"name": f.original_name, "status": f.status, "shown": f.shown_status, "percent": f.progress_percent,
                  "frames_done": f.frames_done, "frames_total": f.frames_total} for f in files.rows],
    }


_UNREAD = object()


def publish(pk: int, job: SearchJob | None = None, gen=_UNREAD) -> dict | None:
    """Read job `pk` from the database and write its snapshot; None when it is gone. `job`: the
    row, already read after the generation `gen` was read (see the module docstring). Raises what
    the database raises; a cache that does not answer only logs."""
    if gen is _UNREAD:
        job = None
        try:
            gen = cache.get(gen_key(pk))  # before the database read
        except Exception as exc:
            log.warning("job %s: progress snapshot not published: %s", pk, exc)
            return _build_only(pk)
    if job is None:
        job = SearchJob.objects.filter(pk=pk).first()
    if job is None:
        return None
    snap = build(job, gen)
    try:
        cache.set(snapshot_key(pk), snap, QUEUED_TTL_S if job.status == SearchJob.Status.QUEUED else SNAPSHOT_TTL_S)
    except Exception as exc:
        log.warning("job %s: progress snapshot not published: %s", pk, exc)
    snap["job"] = job  # for the caller in this process only (not in the cache)
    return snap


def _build_only(pk: int) -> dict | None:
    job = SearchJob.objects.filter(pk=pk).first()
    if job is None:
        return None
    return {**build(job), "job": job}
