"""Security: every URL needs a login, every POST a CSRF token, every object its owner; media is
served inert; headers (CSP, frames, referrer, nosniff); login rate limit; deploy checks."""
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.test import Client, override_settings
from django.urls import reverse

from gallery.models import PendingPhoto, Vehicle
from searches.models import SearchFile, SearchJob, Sighting
from tests.media import FIXTURES
from tests.web.conftest import make_vehicle, owned_things, site_urls

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
JPEG = (FIXTURES / "red_car.jpg").read_bytes()

PUBLIC = {"login", "admin:login"}  # the only pages an anonymous visitor may see


@pytest.fixture
def things(other_user):
    """Bob's vehicle, photo, pending photo, job, file, hit, camera, footage and sightings, with stored media."""
    return owned_things(other_user, "Bob's van", "bob job")


def test_anonymous_gets_only_the_login_pages(client, things):
    login, admin_login = reverse("login"), reverse("admin:login")
    for name, url in things["urls"].items():
        if name in PUBLIC:
            assert client.get(url).status_code == 200
            continue
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code in (302, 403, 404, 405), (name, url, response.status_code)
            if response.status_code == 302:
                expected = admin_login if url.startswith("/admin/") else login  # django-rq's too
                assert response["Location"].startswith(expected), (name, response["Location"])
    assert client.get("/")["Location"].startswith(login)  # the unnamed root redirect too
    assert client.get("/admin/no-such-page/")["Location"].startswith(admin_login)  # the admin's catch-all


def test_other_users_objects_answer_404_on_every_url_with_an_id(client, user, other_user, things):
    client.force_login(other_user)  # the owner reaches every one of them
    for name in things["with_ids"]:
        assert client.get(things["urls"][name]).status_code in (200, 405), name
    client.force_login(user)
    for name in sorted(things["with_ids"]):
        url = things["urls"][name]
        statuses = {client.get(url).status_code,
                    client.post(url, {"label": "mine", "x1": 0, "y1": 0, "x2": 9, "y2": 9}).status_code}
        assert statuses <= {404, 405} and 404 in statuses, (name, statuses)  # 405: GET of a POST-only view
    # Nothing of Bob's changed.
    job, vehicle = things["job"], things["vehicle"]
    job.refresh_from_db()
    vehicle.refresh_from_db()
    assert job.status == "paused" and vehicle.label == "Bob's van" and vehicle.photos.count() == 1
    assert PendingPhoto.objects.filter(owner=other_user).exists()
    assert SearchJob.objects.count() == 1
    footage = things["footage"]
    footage.refresh_from_db()
    assert footage.camera.name == "bob job gate" and footage.recorded_at.year == 2024
    assert Vehicle.objects.count() == 1  # no vehicle registered from Bob's sighting
    assert set(Sighting.objects.values_list("owner", flat=True)) == {other_user.pk}


def test_every_post_needs_a_csrf_token(user, things):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for name, url in things["urls"].items():
        assert client.post(url, {"label": "x"}).status_code == 403, (name, url)
    # With the token the same kind of request goes through.
    mine = make_vehicle(user, "Mine")
    edit_url = reverse("gallery:vehicle_edit", args=[mine.pk])
    page = client.get(edit_url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(edit_url, {"label": "Renamed", "csrfmiddlewaretoken": token}).status_code == 302
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"}).status_code == 403


def test_every_template_is_free_of_inline_script_and_style():
    inline = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son[a-z]+=|javascript:|hx-on|<style", re.I)
    for path in (ROOT / "templates").rglob("*.html"):
        assert not inline.search(path.read_text()), path


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def test_security_headers(client, alice, user, things):
    mine = make_vehicle(user, "Mine")
    for response in (client.get(reverse("login")), alice.get(reverse("gallery:list")),
                     alice.get(mine.get_absolute_url()), alice.get(reverse("searches:create"))):
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == CSP
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        html = response.content.decode()
        assert "/static/vendor/htmx.min.js" in html and "/static/js/layout.js" in html
        assert '"allowEval": false' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)|\sstyle=", html)
    login = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert login.status_code == 302 and login.cookies["sessionid"]["httponly"]
    assert login.cookies["sessionid"]["samesite"] == "Lax"


@pytest.mark.parametrize("name, data, content_type, inline", [
    ("photo.jpg", JPEG, "image/jpeg", True),
    ("clip.mp4", b"\x00\x00\x00\x18ftypisom" + b"\0" * 40, "video/mp4", True),
    ("clip.webm", b"\x1a\x45\xdf\xa3" + b"\x42\x82\x84webm" + b"\0" * 40, "video/webm", True),
    ("scan.tif", b"II*\x00" + b"\0" * 40, "image/tiff", False),
    ("page.html", b"<!doctype html><script>alert(1)</script>", "application/octet-stream", False),
    ("vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "application/octet-stream", False),
    ("fake.jpg", b"<html><body onload=alert(1)>", "application/octet-stream", False),
    ("fake.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "application/octet-stream", False),
    ("empty.mp4", b"", "application/octet-stream", False),
])
def test_media_is_served_by_its_real_kind(alice, user, name, data, content_type, inline):
    job = SearchJob.objects.create(owner=user)
    row = SearchFile(job=job, original_name=name)
    row.file.save(name, ContentFile(data), save=False)
    row.save()
    for headers in ({}, {"HTTP_RANGE": "bytes=0-"}):
        response = alice.get(reverse("searches:file", args=[row.pk]), **headers)
        assert response.status_code in (200, 206) or (not data and response.status_code == 416)
        if response.status_code == 416:
            continue
        assert response["Content-Type"] == content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("inline" if inline else "attachment")
        assert "sandbox" in response["Content-Security-Policy"]


def test_password_validation_is_on():
    for weak in ("12345678", "password", "abc"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("correct horse battery staple 42")


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_login_is_rate_limited_per_ip_and_username(client, user, fresh_cache):
    url = reverse("login")
    for _ in range(10):
        response = client.post(url, {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and "Please enter a correct" in response.content.decode()
    response = client.post(url, {"username": "Alice", "password": "alice-pass-123"})
    assert response.status_code == 429  # even the right password, for a minute
    assert "Too many login attempts" in response.content.decode()
    # Another username from the same address is not blocked; nor is alice from another address.
    assert client.post(url, {"username": "bob", "password": "wrong"}).status_code == 200
    other = Client(REMOTE_ADDR="10.1.2.3")
    assert other.post(url, {"username": "alice", "password": "alice-pass-123"}).status_code == 302


@override_settings(VREID_LOGIN_RATE_PER_IP="5/m")
def test_login_is_rate_limited_per_ip(client, user, fresh_cache):
    for i in range(5):
        assert client.post(reverse("login"), {"username": f"user{i}", "password": "x"}).status_code == 200
    assert client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"}).status_code == 429


@override_settings(VREID_PROXY_HOPS=1, RATELIMIT_IP_META_KEY="vreid_site.security.forwarded_client_ip",
                   VREID_LOGIN_RATE_PER_IP="3/m")
def test_behind_a_proxy_the_login_limit_counts_each_forwarded_client(user, fresh_cache):
    proxy = dict(REMOTE_ADDR="10.0.0.1")  # every request arrives from the proxy
    attacker = Client(**proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    for _ in range(3):
        assert attacker.post(reverse("login"), {"username": "x", "password": "x"}).status_code == 200
    assert attacker.post(reverse("login"), {"username": "x", "password": "x"}).status_code == 429
    # A spoofed address left of the proxy's entry does not give the attacker a fresh counter...
    spoofing = Client(**proxy, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9")
    assert spoofing.post(reverse("login"), {"username": "x", "password": "x"}).status_code == 429
    # ...and another client behind the same proxy is not locked out with the attacker.
    alice = Client(**proxy, HTTP_X_FORWARDED_FOR="192.0.2.7")
    assert alice.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"}).status_code == 302


def run_manage(tmp_path, *args, **env):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE") and not k.startswith(("SECURE_", "VREID_", "SESSION_", "CSRF_"))}
    clean.update(DJANGO_SETTINGS_MODULE="vreid_site.settings", VREID_VAR_DIR=str(tmp_path), **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_refuses_to_start_with_debug_off_and_the_built_in_key(tmp_path):
    result = run_manage(tmp_path, "check", DEBUG="0")
    assert result.returncode != 0 and "Set SECRET_KEY in the environment" in result.stderr


PRODUCTION_ENV = {
    "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "vreid.example.org",
    "VREID_HTTPS": "1", "VREID_PROXY_SSL_HEADER": "1",
}


def test_deploy_check_passes_with_the_production_environment(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    # Without HTTPS settings the same check fails: it is not vacuous.
    plain = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING",
                       **{**PRODUCTION_ENV, "VREID_HTTPS": "0"})
    assert plain.returncode != 0 and "security.W004" in plain.stderr + plain.stdout


def test_unicode_variants_of_a_username_share_its_login_limit(client, user, fresh_cache):
    """Django logs `ａlice` and `al𝐢ｃe` in as alice (NFKC): they count against alice's limit."""
    url = reverse("login")
    variants = ["alice", "ALICE", "ａlice", "al𝐢ｃe", "Ａｌｉｃｅ", " alice "]
    for attempt in range(10):
        response = client.post(url, {"username": variants[attempt % len(variants)], "password": "wrong"})
        assert response.status_code == 200
    for variant in variants:
        assert client.post(url, {"username": variant, "password": "alice-pass-123"}).status_code == 429, variant


@pytest.mark.parametrize("method", ["delete", "put", "patch"])
def test_delete_views_take_only_get_and_post(alice, user, method):
    """HTTP DELETE went through DeletionMixin.delete(), past the "not while running" guard."""
    vehicle = make_vehicle(user, "Mine")
    photo = vehicle.photos.get()
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING)
    for url in (reverse("searches:delete", args=[job.pk]), reverse("gallery:photo_delete", args=[photo.pk]),
                reverse("gallery:vehicle_delete", args=[vehicle.pk])):
        assert getattr(alice, method)(url).status_code == 405, url
    assert SearchJob.objects.filter(pk=job.pk).exists() and vehicle.photos.filter(pk=photo.pk).exists()


def test_an_ordinary_user_changes_their_password(client, alice, user):
    page = alice.get(reverse("gallery:list")).content.decode()
    assert f'href="{reverse("password_change")}"' in page  # linked in the header
    response = alice.post(reverse("password_change"), {
        "old_password": "alice-pass-123", "new_password1": "n3w-Pass-word-42", "new_password2": "n3w-Pass-word-42"})
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert "Password changed" in alice.get(response["Location"]).content.decode()
    anonymous = Client()
    assert anonymous.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"}).status_code == 200
    assert anonymous.post(reverse("login"), {"username": "alice", "password": "n3w-Pass-word-42"}).status_code == 302
    wrong_old = alice.post(reverse("password_change"), {
        "old_password": "nope", "new_password1": "an0ther-Pass-77", "new_password2": "an0ther-Pass-77"})
    assert wrong_old.status_code == 200 and "incorrectly" in wrong_old.content.decode()


MEDIA_URLS = ["gallery:photo_file", "gallery:pending_file", "searches:file", "searches:hit_thumbnail",
              "footage:sighting_thumbnail"]
DETAIL_URLS = ["gallery:vehicle", "searches:detail", "searches:progress", "searches:timeline", "searches:hit"]
VIEW_PERMISSIONS = ["gallery.view_vehicle", "gallery.view_vehiclephoto", "gallery.view_pendingphoto",
                    "searches.view_searchjob", "searches.view_searchfile", "searches.view_hit", "searches.view_sighting"]
# The owner's own pages of the footage index: not shown to staff, whatever their permissions.
OWNER_ONLY_FOOTAGE = ["footage:sighting", "footage:similar", "footage:register", "footage:similar_hit",
                      "footage:journey", "footage:file_edit"]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="staff-pass-123", is_staff=True)


def test_a_staff_user_without_permissions_sees_no_one_else_s_media(client, staff, things):
    client.force_login(staff)
    for name in MEDIA_URLS + DETAIL_URLS:
        assert client.get(things["urls"][name]).status_code == 404, name


def test_the_view_permission_shows_others_media_and_pages_read_only(client, staff, things):
    from django.contrib.auth.models import Permission

    for perm in VIEW_PERMISSIONS:
        app_label, codename = perm.split(".")
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(staff)
    for name in MEDIA_URLS + DETAIL_URLS:
        assert client.get(things["urls"][name]).status_code == 200, name
    page = client.get(things["urls"]["gallery:vehicle"]).content.decode()
    assert "Bob&#x27;s van" in page and "Read only: this belongs to bob" in page and "Edit label" not in page
    # Reading only: every change answers 404 as before.
    for name in ("gallery:vehicle_edit", "gallery:vehicle_delete", "searches:delete", "searches:action",
                 "searches:hit_confirm", "searches:hit_reject", "searches:rerun", "gallery:pick"):
        assert client.post(things["urls"][name], {"label": "x"}).status_code == 404, name
    job = things["job"]
    job.refresh_from_db()
    assert job.status == "paused" and SearchJob.objects.filter(pk=job.pk).exists()


def test_sighting_thumbnails_need_the_view_permission_and_staff_see_no_other_footage_page(client, staff, things):
    """The admin's sightings list shows each thumbnail through footage:sighting_thumbnail: staff
    status alone shows none of them; `searches.view_sighting` shows them, and nothing else."""
    from django.contrib.auth.models import Permission

    thumbnails = [reverse("footage:sighting_thumbnail", args=[row.pk]) for row in things["sightings"]]
    client.force_login(staff)
    for url in thumbnails:
        assert client.get(url).status_code == 404, url
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="searches", codename="view_sighting"))
    client.force_login(staff)  # a fresh permission cache
    for url in thumbnails:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg", url
        assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    changelist = client.get(reverse("admin:searches_sighting_changelist")).content.decode()
    assert all(f'src="{url}"' in changelist for url in thumbnails)
    # The permission reads thumbnails only: the owner's pages and changes stay the owner's.
    for name in OWNER_ONLY_FOOTAGE:
        url = things["urls"][name]
        assert {client.get(url).status_code, client.post(url, {"label": "x"}).status_code} <= {404, 405}, name
    assert Vehicle.objects.count() == 1


@pytest.mark.parametrize("model", ["vehicle", "job", "hit"])
def test_the_admin_s_view_on_site_shows_another_user_s_object(client, django_user_model, things, model):
    from django.contrib.contenttypes.models import ContentType

    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    obj = things[model]
    content_type = ContentType.objects.get_for_model(obj)
    view_on_site = reverse("admin:view_on_site", args=[content_type.pk, obj.pk])
    change = client.get(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]))
    assert f'href="{view_on_site}"' in change.content.decode()  # the change page's link
    response = client.get(view_on_site, follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0].endswith(obj.get_absolute_url()), model


def test_admin_pages_link_media_through_the_checked_views(client, django_user_model, things):
    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    pages = [reverse("admin:searches_hit_change", args=[things["hit"].pk]),
             reverse("admin:searches_hit_changelist"),
             reverse("admin:gallery_pendingphoto_change", args=[things["pending"].pk]),
             reverse("admin:gallery_vehicle_change", args=[things["vehicle"].pk])]
    for url in pages:
        page = client.get(url).content.decode()
        assert "/media-not-public/" not in page, url
    hit_page = client.get(pages[0]).content.decode()
    thumbnail = reverse("searches:hit_thumbnail", args=[things["hit"].pk])
    assert f'href="{thumbnail}"' in hit_page and client.get(thumbnail).status_code == 200


def test_queue_pages_are_for_superusers_only(client, staff, django_user_model):
    """django-rq checks is_staff only, yet its pages stop, requeue and delete every user's jobs."""
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(Permission.objects.all())  # every model permission, still no superuser
    client.force_login(staff)
    queue_urls = {name: url for name, url in site_urls().items() if "rq" in name.split(":")[0] or "django_rq" in name}
    assert "django_rq:home" in queue_urls
    for name, url in queue_urls.items():
        assert client.get(url).status_code in (403, 404), name
        assert client.post(url).status_code in (403, 404), name
    assert client.get("/admin/django_rq/dashboard/").status_code == 404  # no second copy inside the admin
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    assert client.get(queue_urls["django_rq:home"]).status_code == 200


def test_the_database_and_media_are_private(tmp_path, settings):
    """Only the account that runs VReID reads them (the secret key and credentials already were)."""
    var = tmp_path / "var"
    env = {"SECRET_KEY": "x" * 50, "DATABASE_URL": f"sqlite:///{var}/db.sqlite3"}
    result = run_manage(var, "migrate", "--noinput", **env)  # a fresh install: var/ and the SQLite file
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    var.chmod(0o755)  # an older install
    assert run_manage(var, "check", **env).returncode == 0
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    # Media stored anywhere (MEDIA_ROOT may be outside var/) are private too.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    from django.core.files.storage import FileSystemStorage

    name = FileSystemStorage().save("jobs/user_1/abc/photo.jpg", ContentFile(JPEG))
    stored = tmp_path / "media" / name
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    for folder in (stored.parent, stored.parent.parent, stored.parent.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    start = (ROOT / "scripts" / "start.sh").read_text()
    assert "umask 077" in start  # files made by the processes it starts (SQLite's own, Redis's)


def test_owners_media_costs_no_permission_lookup(client, other_user, things, django_assert_max_num_queries):
    """A gallery page loads dozens of thumbnails: the owner's own are served without asking
    for permissions (only another user's object needs the view permission)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(other_user)  # Bob, the owner
    for name in MEDIA_URLS:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(things["urls"][name]).status_code == 200
        assert not [q["sql"] for q in queries if "auth_permission" in q["sql"]], name
