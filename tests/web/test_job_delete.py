"""Deleting a search: its files (unless a re-run shares them), hits and thumbnails go; a job a
worker may hold does not."""
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from searches.models import Hit, SearchFile, SearchJob
from searches.uploads import JobFileAdder
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db


def finished_job(user):
    job = SearchJob.objects.create(owner=user, name="yard", status=SearchJob.Status.DONE)
    row = SearchFile(job=job, original_name="cam1.mp4", kind="video", status="done")
    row.file.save("cam1.mp4", ContentFile(b"not really a video"), save=True)
    hit = Hit(job=job, file=row, vehicle=make_vehicle(user), distance=0.1, box=[0, 0, 1, 1])
    hit.thumbnail.save("hit.jpg", ContentFile(b"jpeg"), save=True)
    return job, row.file.name, hit.thumbnail.name


def test_delete_a_finished_search_keeps_the_files_a_rerun_uses(alice, user, django_capture_on_commit_callbacks):
    job, video, thumbnail = finished_job(user)
    rerun = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE, rerun_of=job)
    JobFileAdder(rerun).copy_from(job)
    url = reverse("searches:delete", args=[job.pk])
    page = alice.get(url).content.decode()
    assert "Delete “yard”?" in page and "1 uploaded file" in page and "1 hit" in page
    with django_capture_on_commit_callbacks(execute=True):  # the files go once the delete commits
        response = alice.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("searches:list")
    assert not SearchJob.objects.filter(pk=job.pk).exists() and not Hit.objects.exists()
    assert not default_storage.exists(thumbnail) and default_storage.exists(video)  # the re-run's
    assert "Deleted “yard”" in alice.get(response["Location"]).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(reverse("searches:delete", args=[rerun.pk]))
    assert not default_storage.exists(video) and not SearchFile.objects.exists()
    assert user.vehicles.count() == 1  # vehicles stay


@pytest.mark.parametrize("status", ["running", "queued"])
def test_a_search_a_worker_may_hold_is_not_deleted(alice, user, status):
    job, video, _ = finished_job(user)
    SearchJob.objects.filter(pk=job.pk).update(status=status)
    response = alice.post(reverse("searches:delete", args=[job.pk]))
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert SearchJob.objects.filter(pk=job.pk).exists() and default_storage.exists(video)
    assert "before deleting it" in alice.get(response["Location"]).content.decode()


def test_the_admin_does_not_delete_a_search_a_worker_may_hold(client, django_user_model, user):
    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client.force_login(admin)
    running, _, _ = finished_job(user)
    SearchJob.objects.filter(pk=running.pk).update(status="running")
    done, _, _ = finished_job(user)
    assert client.post(reverse("admin:searches_searchjob_delete", args=[running.pk]), {"post": "yes"}).status_code == 403
    changelist = reverse("admin:searches_searchjob_changelist")
    # The list's "delete" action goes through searches.lifecycle: the running one stays.
    client.post(changelist, {"action": "delete", "_selected_action": [running.pk, done.pk]})
    assert SearchJob.objects.filter(pk=running.pk).exists()
    assert not SearchJob.objects.filter(pk=done.pk).exists()
