"""The progress poll answered before Django's middleware (issue 12).

An open job page polls its progress fragment every second. JobProgressView answers from the job's
snapshot in Redis, but only after the whole middleware stack: session, user (a database query),
CSRF, messages, security headers. On a VM several times slower than a developer's machine that
stack is what a 2-core server cannot afford 200 times a second.

`FastPoll` wraps the WSGI application. An htmx GET of a job's progress URL that carries the job's
poll token (`t`, searches.progress_cache.poll_token: job and owner, signed and dated by a view
that checked the session) is answered here from the snapshot (one Redis round trip), as the view
would answer it (progress_cache.answer): 204 when the page's copy is current, else the fragment,
which carries the same token. Everything else goes to Django as before: no token or one older
than POLL_TOKEN_TTL_S (Django then hands out a new one), a missing, stale or foreign snapshot, a
recovery check due, a message waiting in its cookie, plain http where https is required, Redis
away. (Such a poll reads the snapshot again in the view: rare, one cache read.)

What the token gives: the progress fragment of one job, for POLL_TOKEN_TTL_S after a request
whose session was checked, to whoever holds the page that request returned. A logout, or a copy
of the page, stops working within that time. Messages kept in the session (those too big for the
messages cookie) wait for the first poll that reaches Django.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from django.conf import settings
from django.urls import reverse

from searches import progress_cache
from searches.staleness import recovery_due

log = logging.getLogger(__name__)
_SENTINEL_PK = 987654321
STATUS = {200: "200 OK", 204: "204 No Content", 304: "304 Not Modified"}


def middleware_headers() -> list[tuple[str, str]]:
    """What Django's middleware would add to the fragment (vreid_site.settings; HSTS comes with
    the pages)."""
    return [("Vary", "Cookie"), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", settings.X_FRAME_OPTIONS),
            ("Referrer-Policy", settings.SECURE_REFERRER_POLICY), ("Content-Security-Policy", settings.VREID_CSP)]


def is_secure(environ) -> bool:
    """As Django's request.is_secure(): https here, or said so by the trusted proxy header."""
    header = settings.SECURE_PROXY_SSL_HEADER
    if header and environ.get(header[0], "").split(",")[0].strip() == header[1]:
        return True
    return environ.get("wsgi.url_scheme") == "https"


class FastPoll:
    """WSGI middleware: see the module doc."""

    def __init__(self, app):
        self.app = app
        self._pattern = None
        self.headers = middleware_headers()

    def __call__(self, environ, start_response):
        answered = self._answer(environ)
        if answered is None:
            return self.app(environ, start_response)
        status, headers, body = answered
        data = body.encode()
        head = [*headers.items(), *self.headers]
        if status == 200:
            head += [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data)))]
        start_response(STATUS[status], head)
        return [data] if data else []

    def _answer(self, environ) -> tuple[int, dict, str] | None:
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_HX_REQUEST" not in environ:
            return None
        if settings.SECURE_SSL_REDIRECT and not is_secure(environ):
            return None  # Django redirects it to https
        if "messages=" in environ.get("HTTP_COOKIE", ""):
            return None  # a message to show: the view puts it in the fragment
        match = self.progress_path().fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if not query.get("t"):
            return None
        pk = int(match.group(1))
        try:
            snap, _ = progress_cache.read(pk)
        except Exception as exc:  # Redis away: Django answers from the database
            log.warning("progress snapshot unavailable: %s", exc)
            return None
        if snap is None or not progress_cache.token_valid(pk, snap["owner"], query["t"]) or recovery_due(snap):
            return None
        return progress_cache.answer(snap, query, environ.get("HTTP_IF_NONE_MATCH", ""), True, query["t"])

    def progress_path(self) -> re.Pattern:
        """The progress URL as a pattern (built once, from the URLconf, on the first request)."""
        if self._pattern is None:
            path = reverse("searches:progress", args=[_SENTINEL_PK])
            self._pattern = re.compile(re.escape(path).replace(str(_SENTINEL_PK), r"(\d+)"))
        return self._pattern
