"""Odd input never gets a 500: every form field, query parameter, URL id and header the app
parses is sent values that break naive parsing (huge and out-of-range integers, non-finite
floats, deeply nested JSON, NUL bytes, long non-ASCII text)."""
import io

import pytest
from django.test import Client
from django.urls import reverse

from tests.media import FIXTURES
from tests.web.conftest import owned_things, url_patterns

pytestmark = pytest.mark.django_db
JPEG = (FIXTURES / "red_car.jpg").read_bytes()

ODD = [
    "9223372036854775808", "-9223372036854775809", "1" * 5000, "0", "-1", "1e309", "-1e309", "nan", "inf",
    "[" * 100_000, '{"a":' * 20_000, "\x00", "a\x00b", "\u202e", "Ａ" * 5000, "😀" * 2000,
    "../../../../etc/passwd", "%00", "' OR 1=1 --", "<script>alert(1)</script>", "", " ",
]
RANGES = ["bytes=" + "9" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "9" * 5000,
          "bytes=" + "9" * 18 + "-", "bytes=5-1", "bytes=--", "bytes=0-0,1-1", "bytes=\x00", "items=0-1"]
FILE = object()  # stands for a small JPEG upload
SEARCH_SETTINGS = {"name": "x", "vehicles": "{vehicle}", "device": "cpu", "frame_stride": "2", "threshold": "0.3",
                   "tracking": "on", "proposals": "detector"}
# What each page parses: valid values that the odd one replaces, field by field. Every URL of the
# app is listed; one that takes no input maps to {}.
FORMS = {
    "login": {"username": "alice", "password": "wrong"},
    "logout": {},
    "password_change": {"old_password": "alice-pass-123", "new_password1": "n3w-Pass-word-42",
                        "new_password2": "n3w-Pass-word-42"},
    "password_change_done": {},
    "gallery:list": {}, "gallery:upload": {"photo": FILE, "vehicle": "{vehicle}"},
    "gallery:pick": {"x1": "0", "y1": "0", "x2": "2", "y2": "2", "label": "x"},  # a box too small to save
    "gallery:pending_file": {}, "gallery:vehicle": {},
    "gallery:vehicle_edit": {"label": "x"}, "gallery:vehicle_delete": {}, "gallery:photo_delete": {},
    "gallery:photo_file": {}, "gallery:negative_delete": {}, "gallery:negative_file": {},
    "searches:list": {}, "searches:create": {**SEARCH_SETTINGS, "files": FILE, "folder": FILE, "folder_paths": "[]",
                                             "camera_name": "x", "recorded_at": "2023-11-05T14:30:22"},
    "searches:detail": {}, "searches:progress": {}, "searches:timeline": {}, "searches:rerun": SEARCH_SETTINGS,
    "searches:delete": {}, "searches:action": {}, "searches:export_csv": {}, "searches:export_json": {},
    "searches:hit": {}, "searches:hit_confirm": {}, "searches:hit_reject": {}, "searches:file": {},
    "searches:hit_thumbnail": {},
    "footage:explore": {}, "footage:sighting": {}, "footage:sighting_thumbnail": {}, "footage:similar": {},
    "footage:similar_hit": {}, "footage:register": {"label": "x"}, "footage:journey": {},
    "footage:files": {}, "footage:file_edit": {"camera_name": "x", "recorded_at": "2023-11-05T14:30:22"},
    "footage:search": {"vehicles": "{vehicle}", "footage": "{footage}", "cameras": "{camera}", "start": "2024-05-01T10:00",
                       "end": "2024-05-02T10:00", "threshold": "0.3", "match_attributes": "on", "action": "check"},
}
QUERY_PARAMS = ["page", "hits", "label", "vehicle", "next",
                "camera", "seen_from", "seen_to", "colour", "vehicle_type", "footage", "order",  # explore's filters
                "cameras", "start", "end"]  # the journey's
MEDIA = ["gallery:pending_file", "gallery:photo_file", "gallery:negative_file", "searches:file", "searches:hit_thumbnail",
         "footage:sighting_thumbnail"]
DESTRUCTIVE = ["gallery:vehicle_delete", "gallery:photo_delete", "gallery:negative_delete", "searches:delete",
               "searches:hit_reject", "logout"]


def app_url_names():
    return sorted(name for name, _ in url_patterns() if name and not name.startswith(("admin:", "django_rq")))


def test_every_app_url_is_fuzzed():
    assert set(app_url_names()) == set(FORMS), "add the new URL and what it parses to FORMS"


@pytest.fixture
def client_500(user):
    """A logged-in client that returns 500 responses instead of raising."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def post_data(fields: dict, things: dict, odd_field: str = "", odd=None) -> dict:
    """The form's values, one of them odd; "{vehicle}", "{footage}", "{camera}": the owned object's id."""
    data = {}
    for field, value in fields.items():
        if field == odd_field:
            value = odd
        elif value is FILE:
            value = io.BytesIO(JPEG)
            value.name = "car.jpg"
        else:
            for key in ("vehicle", "footage", "camera"):
                value = value.replace(f"{{{key}}}", str(things[key].pk))
        data[field] = value
    return data


def assert_no_500(response, *context):
    assert response.status_code < 500, (*context, response.status_code, response.content[:300])


@pytest.mark.parametrize("name", sorted(FORMS))
def test_odd_values_in_forms_and_query_strings(client_500, user, queue, name):
    things = owned_things(user)
    url, vehicle = things["urls"][name], things["vehicle"]
    for odd in ODD:
        assert_no_500(client_500.get(url, {param: odd for param in QUERY_PARAMS}), name, "query", odd[:20])
    if name in DESTRUCTIVE:
        return
    fields = FORMS[name]
    for field in fields:
        for odd in ODD:
            data = post_data(fields, things, field, odd)
            assert_no_500(client_500.post(url, data), name, field, odd[:20])
    for odd in ODD:  # several values for a multiple choice
        if "vehicles" in fields:
            data = {**post_data(fields, things), "vehicles": [str(vehicle.pk), odd]}
            assert_no_500(client_500.post(url, data), name, "vehicles list", odd[:20])


@pytest.mark.parametrize("name", sorted(n for n in FORMS if n not in DESTRUCTIVE))
def test_odd_ids_in_urls(client_500, user, name):
    params = dict(url_patterns())[name]
    if not params:
        return
    for odd in ["9223372036854775808", "9" * 30, "9" * 5000]:
        url = reverse(name, kwargs={p: (odd if p in ("pk", "job_pk", "index") else things_kwarg(p)) for p in params})
        assert_no_500(client_500.get(url), name, odd[:20])
        assert_no_500(client_500.post(url), name, odd[:20])


def things_kwarg(param):
    return {"kind": "image", "action": "pause"}[param]


@pytest.mark.parametrize("name", MEDIA)
def test_odd_range_headers(client_500, user, name):
    url = owned_things(user)["urls"][name]
    for value in RANGES:
        response = client_500.get(url, HTTP_RANGE=value)
        assert_no_500(response, name, value[:20])
        assert response.status_code in (200, 206, 416), (name, value[:20], response.status_code)


@pytest.mark.filterwarnings("ignore::django.core.cache.CacheKeyWarning")  # a memcached limit; Redis takes it
def test_odd_headers_and_cookies(client_500, user, settings):
    settings.VREID_PROXY_HOPS = 1
    settings.RATELIMIT_IP_META_KEY = "vreid_site.security.forwarded_client_ip"
    urls = owned_things(user)["urls"]
    headers = {"HTTP_X_FORWARDED_FOR": "\x00, " + "9" * 5000 + ", ::1%eth0, [", "HTTP_HX_REQUEST": "[" * 10_000,
               "HTTP_ACCEPT_LANGUAGE": "x" * 10_000, "HTTP_IF_MODIFIED_SINCE": "9" * 5000}
    for name in ("gallery:list", "searches:detail", "searches:progress", "searches:file"):
        assert_no_500(client_500.get(urls[name], **headers), name)
    assert_no_500(client_500.post(urls["login"], {"username": "alice", "password": "x"}, **headers), "login")
    anonymous = Client(raise_request_exception=False, HTTP_COOKIE="sessionid=" + "\x00[" * 1000 + "; csrftoken=[[[")
    assert_no_500(anonymous.get(urls["gallery:list"]), "cookies")
