"""The progress poll answered before Django's middleware (searches.fast_poll): through the
product's WSGI application, as gunicorn calls it, with a real Redis and database. An answer from
the fast layer costs no query and no session; anything it cannot vouch for goes to Django, which
then answers as before (a login redirect for a client with no session, here)."""
import io
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from searches import progress_cache
from searches.models import SearchJob
from tests.web.test_progress_cache import running_job
from vreid_site.wsgi import application

pytestmark = pytest.mark.django_db


def wsgi_get(path: str, query: dict, cookie: str = "", htmx: bool = True, proto: str = "") -> tuple[str, dict, bytes]:
    """One GET through vreid_site.wsgi.application, without a session."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": urlencode(query), "SERVER_NAME": "testserver",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
               "HTTP_HOST": "testserver"}
    if htmx:
        environ["HTTP_HX_REQUEST"] = "true"
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    if proto:
        environ["HTTP_X_FORWARDED_PROTO"] = proto
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)
    body = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], body


def page_vals(alice, job) -> dict:
    """What the page's copy of the fragment sends with each poll (its hx-vals)."""
    html = alice.get(reverse("searches:progress", args=[job.pk]), HTTP_HX_REQUEST="true").content.decode()
    return dict(re.findall(r'"(hits|v|t)": "([^"]*)"', html))


def test_a_poll_with_a_fresh_token_is_answered_from_the_snapshot_with_no_session_and_no_query(alice, user):
    job = running_job(user)
    vals = page_vals(alice, job)
    assert set(vals) == {"hits", "v", "t"} and progress_cache.token_valid(job.pk, user.pk, vals["t"])
    path = reverse("searches:progress", args=[job.pk])
    with CaptureQueriesContext(connection) as captured:
        status, headers, body = wsgi_get(path, vals)
    assert status.startswith("204") and body == b"" and captured.captured_queries == []
    assert headers["ETag"] == f'"{vals["v"]}"' and headers["Cache-Control"] == "private, no-cache"
    # The worker writes progress: the new fragment, still without Django, carrying the same token.
    SearchJob.objects.filter(pk=job.pk).update(progress=0.5)
    progress_cache.publish(job.pk)
    with CaptureQueriesContext(connection) as captured:
        status, headers, body = wsgi_get(path, vals)
    html = body.decode()
    assert status.startswith("200") and captured.captured_queries == [] and "50%" in html
    assert f'"t": "{vals["t"]}"' in html and f'"v": "{vals["v"]}"' not in html and "HX-Trigger" not in headers
    assert headers["Content-Type"].startswith("text/html") and "Content-Security-Policy" in headers
    assert headers["X-Frame-Options"] == "DENY" and int(headers["Content-Length"]) == len(body)
    # A copy behind on hits: the fragment and the trigger to fetch the timeline.
    status, headers, _ = wsgi_get(path, {**vals, "hits": "1-50"})
    assert status.startswith("200") and headers["HX-Trigger"] == "hits-changed"


def test_plain_http_polls_go_to_django_when_https_is_required(alice, user, settings):
    job = running_job(user)
    vals = page_vals(alice, job)
    settings.SECURE_SSL_REDIRECT = True
    status, headers, _ = wsgi_get(reverse("searches:progress", args=[job.pk]), vals)
    # Django's answer (its middleware, built at start-up, predates this setting: a login redirect).
    assert status.startswith("302") and "/login/" in headers["Location"], (status, headers)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    status, _, _ = wsgi_get(reverse("searches:progress", args=[job.pk]), vals, proto="https")
    assert status.startswith("204")


@pytest.mark.parametrize("case", ["expired token", "wrong token", "another job's token", "another user's token",
                                  "no token", "message waiting", "not htmx", "recovery due", "snapshot gone"])
def test_whatever_the_fast_layer_cannot_vouch_for_goes_to_django(alice, user, other_user, settings, monkeypatch, case):
    job, other = running_job(user), running_job(user, files=1, hits=0)
    vals = page_vals(alice, job)
    cookie, htmx = "", True
    if case == "expired token":
        monkeypatch.setattr(progress_cache, "POLL_TOKEN_TTL_S", -1)
    elif case == "wrong token":
        vals["t"] = vals["t"][:-2] + ("AA" if not vals["t"].endswith("AA") else "BB")
    elif case == "another job's token":
        vals["t"] = progress_cache.poll_token(other.pk, user.pk)
    elif case == "another user's token":
        vals["t"] = progress_cache.poll_token(job.pk, other_user.pk)
    elif case == "no token":
        del vals["t"]
    elif case == "message waiting":
        cookie = "messages=abc"
    elif case == "not htmx":
        htmx = False
    elif case == "recovery due":
        old = timezone.now() - timedelta(seconds=settings.VREID_HEARTBEAT_TIMEOUT_S + 5)
        SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=old)
        progress_cache.publish(job.pk)  # same HTML, so the same version: only the figures say it
        assert progress_cache.read(job.pk)[0]["version"] == vals["v"]
    elif case == "snapshot gone":
        progress_cache.changed(job.pk)
    status, headers, _ = wsgi_get(reverse("searches:progress", args=[job.pk]), vals, cookie, htmx)
    assert status.startswith("302") and "/login/" in headers["Location"], (status, headers)  # Django: no session


def test_django_hands_a_page_whose_token_ran_out_a_new_one(alice, user, monkeypatch):
    """Through Django (the test client, with the session): an unchanged copy is answered 204 while
    its token is fresh; once it has run out, the fragment comes again with a new token."""
    job = running_job(user)
    vals = page_vals(alice, job)
    path = reverse("searches:progress", args=[job.pk])
    assert alice.get(path, vals, HTTP_HX_REQUEST="true").status_code == 204
    monkeypatch.setattr(progress_cache, "POLL_TOKEN_TTL_S", -1)
    response = alice.get(path, vals, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'"v": "{vals["v"]}"' in response.content.decode()
