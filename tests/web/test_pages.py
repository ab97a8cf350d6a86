"""What pages say: times and speeds, a re-run's name, messages after an action, the favicon."""
import pytest
from django.core.checks import run_checks
from django.urls import reverse

from gallery.engine_cache import get_engine
from searches.models import SearchFile, SearchJob
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db


def test_a_search_shows_how_long_it_took_and_how_fast(alice, user):
    job = SearchJob.objects.create(owner=user, name="yard", status=SearchJob.Status.DONE, progress=1.0,
                                   elapsed_s=75.4, speed_fps=41.6)
    SearchFile.objects.create(job=job, original_name="cam1.mp4", kind="video", status="done", progress=1.0,
                              elapsed_s=62.2, speed_fps=43.1, frames_done=2500, frames_total=2500)
    page = alice.get(job.get_absolute_url()).content.decode()
    assert "100% · took 1 min 15 s · 42 frames/s" in page  # the job
    assert "1 min 02 s · 43 frames/s" in page  # its file
    assert "1 min 15 s · 42 frames/s" in alice.get(reverse("searches:list")).content.decode()


def test_a_rerun_gets_a_name_of_its_own(alice, user):
    job = SearchJob.objects.create(owner=user, name="yard", status=SearchJob.Status.DONE)
    page = alice.get(reverse("searches:rerun", args=[job.pk])).content.decode()
    assert 'name="name" value="Re-run of yard"' in page


def test_the_threshold_placeholder_is_short_enough_to_read(alice):
    page = alice.get(reverse("searches:create")).content.decode()
    assert f'placeholder="{get_engine().threshold:.2f} (default)"' in page


def test_removing_a_photo_says_so(alice, user):
    vehicle = make_vehicle(user, "Van")
    response = alice.post(reverse("gallery:photo_delete", args=[vehicle.photos.get().pk]), follow=True)
    assert "Removed a photo of “Van” (0 left)." in response.content.decode()


def test_the_favicon_is_served_to_anyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert b"".join(response.streaming_content)[:4] == b"\0\0\1\0"  # an ICO file


def test_start_up_check_keeps_the_database_retries_below_the_heartbeat_timeout(settings):
    assert not [e for e in run_checks() if e.id == "vreid.E001"]
    settings.VREID_DB_RETRY_S, settings.VREID_HEARTBEAT_TIMEOUT_S = 60, 60
    errors = [e for e in run_checks() if e.id == "vreid.E001"]
    assert errors and "VREID_DB_RETRY_S (60 s) must be below VREID_HEARTBEAT_TIMEOUT_S (60 s)" in errors[0].msg


def test_the_job_timeout_is_a_setting(user, queue, settings):
    from searches import lifecycle

    settings.VREID_JOB_TIMEOUT_S = 1234
    job = SearchJob.objects.create(owner=user)
    lifecycle.queue(job)
    job.refresh_from_db()
    assert queue.fetch_job(job.rq_job_id).timeout == 1234


def test_every_footage_page_shows_its_owner_s_footage(alice, user):
    """Each footage URL, opened by its owner on real rows (owned_things: a camera, an indexed
    file, two sightings with thumbnails and vectors), answers and shows them."""
    from gallery.models import Vehicle
    from tests.web.conftest import owned_things, url_patterns

    things = owned_things(user)
    urls, (first, second) = things["urls"], things["sightings"]
    thumb = {row: reverse("footage:sighting_thumbnail", args=[row.pk]) for row in (first, second)}
    camera, footage = things["camera"].name, things["footage"]
    shows = {  # what each page must show (a POST-only URL: None)
        "footage:explore": [thumb[first], thumb[second], camera],
        "footage:sighting": ["Red car in a.jpg", camera, thumb[first]],
        "footage:sighting_thumbnail": [],
        "footage:similar": [thumb[second]],
        "footage:similar_hit": [thumb[first], thumb[second]],
        "footage:register": None,
        "footage:journey": ["Not seen in your indexed footage yet."],  # its photo's vector is no engine's
        "footage:files": [footage.original_name, camera],
        "footage:file_edit": [f'value="{camera}"', "Its 2 sightings take the camera"],
        "footage:search": [footage.original_name, camera],
    }
    assert set(shows) == {name for name, _ in url_patterns() if name.startswith("footage:")}, "add the new page"
    for name, texts in shows.items():
        response = alice.get(urls[name])
        assert response.status_code == (405 if texts is None else 200), name
        page = b"".join(response.streaming_content) if response.streaming else response.content
        if name == "footage:sighting_thumbnail":
            assert response["Content-Type"] == "image/jpeg" and page[:2] == b"\xff\xd8"
        for text in texts or ():
            assert text in page.decode(), (name, text)
    # Registering from the sighting makes a vehicle from its box in the stored image.
    response = alice.post(urls["footage:register"], {"label": "From the gate"})
    vehicle = Vehicle.objects.get(owner=user, label="From the gate")
    assert response.status_code == 302 and response["Location"] == vehicle.get_absolute_url()
    assert vehicle.photos.count() == 1


def test_the_gallery_grid_is_cached_and_the_owner_s_changes_show_at_once(alice, user, other_user,
                                                                          django_assert_max_num_queries):
    car = make_vehicle(user, "Blue van")
    url = reverse("gallery:list")
    assert "Blue van" in alice.get(url).content.decode()
    with django_assert_max_num_queries(2):  # the session's user, the count; no query for the cached grid
        assert "Blue van" in alice.get(url).content.decode()
    make_vehicle(other_user, "Someone else's")  # another user's change keeps this grid
    with django_assert_max_num_queries(2):
        alice.get(url)
    car.label = "Red van"
    car.save()
    page = alice.get(url).content.decode()
    assert "Red van" in page and "Blue van" not in page
    make_vehicle(user, "Green car")
    assert "Green car" in alice.get(url).content.decode()
    car.delete()
    assert "Red van" not in alice.get(url).content.decode()
