"""Each user sees only their own vehicles, jobs and media; others' URLs answer 404."""
import pytest
from django.urls import reverse

from searches.models import Hit, SearchFile, SearchJob
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db
MP4_HEAD = b"\x00\x00\x00\x18ftypisom"  # served as video/mp4 because it starts like one


@pytest.fixture
def bobs_things(other_user):
    from django.core.files.base import ContentFile

    vehicle = make_vehicle(other_user, "Bob's van")
    job = SearchJob.objects.create(owner=other_user, name="bob job", status=SearchJob.Status.DONE)
    search_file = SearchFile(job=job, original_name="clip.mp4", kind="video", status="done")
    search_file.file.save("clip.mp4", ContentFile(MP4_HEAD + b"not really a video"), save=False)
    search_file.save()
    hit = Hit(job=job, file=search_file, vehicle=vehicle, distance=0.1, box=[1, 2, 3, 4], start_s=1, end_s=2)
    hit.thumbnail.save("t.jpg", ContentFile(b"jpeg"), save=False)
    hit.save()
    return vehicle, job, search_file, hit


def test_login_required_everywhere(client):
    for url in [reverse("gallery:list"), reverse("gallery:upload"), reverse("searches:list"),
                reverse("searches:create"), "/admin/rq/"]:
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    assert client.get(reverse("login")).status_code == 200


def test_other_users_objects_and_media_answer_404(alice, bobs_things):
    vehicle, job, search_file, hit = bobs_things
    photo = vehicle.photos.first()
    urls = [
        reverse("gallery:vehicle", args=[vehicle.pk]),
        reverse("gallery:vehicle_edit", args=[vehicle.pk]),
        reverse("gallery:vehicle_delete", args=[vehicle.pk]),
        reverse("gallery:photo_file", args=[photo.pk, "image"]),
        reverse("gallery:photo_file", args=[photo.pk, "crop"]),
        reverse("searches:detail", args=[job.pk]),
        reverse("searches:progress", args=[job.pk]),
        reverse("searches:timeline", args=[job.pk]),
        reverse("searches:rerun", args=[job.pk]),
        reverse("searches:export_csv", args=[job.pk]),
        reverse("searches:export_json", args=[job.pk]),
        reverse("searches:hit", args=[job.pk, hit.pk]),
        reverse("searches:file", args=[search_file.pk]),
        reverse("searches:hit_thumbnail", args=[hit.pk]),
    ]
    for url in urls:
        assert alice.get(url).status_code == 404, url
    assert alice.post(reverse("gallery:vehicle_delete", args=[vehicle.pk])).status_code == 404
    assert alice.post(reverse("searches:action", args=[job.pk, "cancel"])).status_code == 404
    assert vehicle.__class__.objects.filter(pk=vehicle.pk).exists()
    # Lists show only one's own things.
    assert "Bob&#x27;s van" not in alice.get(reverse("gallery:list")).content.decode()
    assert "bob job" not in alice.get(reverse("searches:list")).content.decode()


def test_owner_gets_media_with_range_support(client, other_user, bobs_things):
    _, _, search_file, _ = bobs_things
    client.force_login(other_user)
    url = reverse("searches:file", args=[search_file.pk])
    full = client.get(url)
    assert full.status_code == 200 and full["Content-Type"] == "video/mp4"
    assert b"".join(full.streaming_content) == MP4_HEAD + b"not really a video"
    part = client.get(url, HTTP_RANGE="bytes=16-21")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 16-21/30"
    assert b"".join(part.streaming_content) == b"really"
    assert client.get(url, HTTP_RANGE="bytes=100-").status_code == 416


def test_no_public_media_url(alice, bobs_things):
    _, _, search_file, _ = bobs_things
    assert alice.get("/media/" + search_file.file.name).status_code == 404


def test_staff_see_every_users_vehicles_and_jobs_in_the_admin(client, user, bobs_things, django_user_model):
    vehicle, job, _, _ = bobs_things
    make_vehicle(user, "Alice car")
    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    page = client.get(reverse("admin:gallery_vehicle_changelist")).content.decode()
    assert "Bob&#x27;s van" in page and "Alice car" in page
    cover = vehicle.photos.get()
    assert reverse("gallery:photo_file", args=[cover.pk, "crop"]) in page  # the thumbnail column
    row = page[page.index("Bob&#x27;s van"):].split("</tr>")[0]
    assert '<td class="field-photo_count">1</td>' in row and '<td class="field-hit_count">1</td>' in row
    assert "bob job" in client.get(reverse("admin:searches_searchjob_changelist")).content.decode()


def test_footage_pages_show_only_one_s_own_sightings(alice, user, other_user):
    """Bob's sightings share Alice's vectors, camera times and file name: none of them, nor his
    camera, reaches Alice's footage pages (her grid, her similar, her search form), even when
    her filters name his camera or file."""
    from tests.web.conftest import owned_things

    mine, bobs = owned_things(user), owned_things(other_user, "Bob's van", "bob job")
    leaks = [reverse("footage:sighting_thumbnail", args=[row.pk]) for row in bobs["sightings"]]
    leaks += [row.get_absolute_url() for row in bobs["sightings"]] + ["bob job gate"]
    pages = [mine["urls"][name] for name in ("footage:explore", "footage:sighting", "footage:similar",
                                              "footage:similar_hit", "footage:journey", "footage:files",
                                              "footage:file_edit", "footage:search")]
    pages += [reverse("footage:explore") + f"?camera={bobs['camera'].pk}",
              reverse("footage:explore") + f"?footage={bobs['footage'].pk}"]
    for url in pages:
        response = alice.get(url)
        assert response.status_code == 200, url
        assert not [text for text in leaks if text in response.content.decode()], url
    own = reverse("footage:sighting_thumbnail", args=[mine["sightings"][1].pk])
    assert own in alice.get(mine["urls"]["footage:similar"]).content.decode()  # the grids are not empty
    # Naming Bob's file or camera in Search my footage is refused, not searched.
    response = alice.post(reverse("footage:search"), {"vehicles": mine["vehicle"].pk, "footage": bobs["footage"].pk,
                                                      "action": "check"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert SearchJob.objects.filter(owner=user).count() == 1
