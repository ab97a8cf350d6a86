"""The progress poll's "nothing changed", answered before Django's middleware (issue 12).

An open job page polls its progress fragment every second, and nearly every poll finds the
fragment it already has. JobProgressView answers that with a 204 from one cache read, but only
after the whole middleware stack: session, user (a database query), CSRF, messages, security
headers; on a VM three times slower than a quiet developer machine, that stack alone is what a
2-core server cannot afford 200 times a second.

`FastPoll` wraps the WSGI application. For an htmx GET of a job's progress URL that carries the
version its copy shows (`v`), its hits version (`hits`) and the job's poll token (`t`,
searches.progress_cache.poll_token: a signature of the job and its owner), it reads the job's
snapshot (one Redis round trip) and answers 204 itself when the snapshot is current and
unchanged, the token is the owner's and no recovery check is due. Everything else (a changed
snapshot, a missing or foreign one, a wrong token, a message waiting in its cookie, any error)
goes to Django as before.

What a 204 tells: "the copy you hold, whose version you sent, is still current". It carries no
data, and to ask one must already hold the job's page (the version is a hash of its HTML, the
token a signature only the server makes), so the session is not needed to give it: a client
that logged out meanwhile learns nothing new. Messages stored in the session (those too big for
the messages cookie) wait for the next change of the job, which every action that adds one makes.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from django.urls import reverse

from searches import progress_cache
from searches.staleness import recovery_due

log = logging.getLogger(__name__)
_SENTINEL_PK = 987654321
HEADERS = [("Cache-Control", "private, no-cache"), ("Vary", "Cookie")]


class FastPoll:
    """WSGI middleware: see the module doc."""

    def __init__(self, app):
        self.app = app
        self._pattern = None

    def __call__(self, environ, start_response):
        version = self._unchanged(environ)
        if version is None:
            return self.app(environ, start_response)
        start_response("204 No Content", HEADERS + [("ETag", f'"{version}"')])
        return []

    def _unchanged(self, environ) -> str | None:
        """The snapshot's version if this request is a poll of an unchanged progress fragment."""
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_HX_REQUEST" not in environ:
            return None
        if "messages=" in environ.get("HTTP_COOKIE", ""):
            return None  # a message to show: the fragment carries it (JobProgressView)
        match = self.progress_path().fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        sent = {key: query.get(key, [""])[0] for key in ("v", "hits", "t")}
        if not all(sent.values()):
            return None
        pk = int(match.group(1))
        try:
            snap, _ = progress_cache.read(pk)
        except Exception as exc:  # Redis away: Django answers from the database
            log.warning("progress snapshot unavailable: %s", exc)
            return None
        if (snap is None or snap["version"] != sent["v"] or snap["hits"] != sent["hits"]
                or not progress_cache.token_matches(pk, snap["owner"], sent["t"]) or recovery_due(snap)):
            return None
        return snap["version"]

    def progress_path(self) -> re.Pattern:
        """The progress URL as a pattern (built once, from the URLconf, on the first request)."""
        if self._pattern is None:
            path = reverse("searches:progress", args=[_SENTINEL_PK])
            self._pattern = re.compile(re.escape(path).replace(str(_SENTINEL_PK), r"(\d+)"))
        return self._pattern
