"""The admin: adding works where it makes sense (and is not offered where it does not), a job's
state changes only through its lifecycle, and the lists read well."""
import pytest
from django.urls import reverse
from django.utils import timezone

from gallery.models import PendingPhoto, Vehicle
from searches.models import Hit, SearchFile, SearchJob
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="root-pass-123"))
    return client


def test_a_vehicle_is_added_for_a_chosen_owner(staff, user):
    response = staff.post(reverse("admin:gallery_vehicle_add"), {
        "label": "Added by staff", "owner": user.pk,
        "photos-TOTAL_FORMS": 0, "photos-INITIAL_FORMS": 0, "photos-MIN_NUM_FORMS": 0, "photos-MAX_NUM_FORMS": 1000,
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Vehicle.objects.get(label="Added by staff").owner == user
    change = staff.get(reverse("admin:gallery_vehicle_change", args=[Vehicle.objects.get().pk])).content.decode()
    assert 'name="owner"' not in change  # a vehicle never moves to another user's gallery


@pytest.mark.parametrize("model", [PendingPhoto, SearchJob, Hit])
def test_no_add_form_where_adding_makes_no_sense(staff, model):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert staff.get(reverse(f"{name}_add")).status_code == 403
    assert reverse(f"{name}_add") not in staff.get(reverse(f"{name}_changelist")).content.decode()


def test_a_jobs_state_is_read_only_and_changed_by_the_lifecycle_actions(staff, user, other_user):
    mine, theirs = make_vehicle(user, "Mine"), make_vehicle(other_user, "Theirs")
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, rq_job_id="rq-1",
                                   heartbeat_at=timezone.now())
    SearchFile.objects.create(job=job, original_name="a.mp4", kind="video")
    url = reverse("admin:searches_searchjob_change", args=[job.pk])
    page = staff.get(url).content.decode()
    assert 'name="status"' not in page and 'name="error"' not in page and 'name="recoveries"' not in page
    assert "Mine" in page and "Theirs" not in page  # the vehicles to look for: the owner's only
    changelist = reverse("admin:searches_searchjob_changelist")
    response = staff.post(changelist, {"action": "delete", "_selected_action": [job.pk]}, follow=True)
    assert "Deleted 0 of 1 searches" in response.content.decode() and SearchJob.objects.filter(pk=job.pk).exists()
    response = staff.post(changelist, {"action": "cancel", "_selected_action": [job.pk]}, follow=True)
    assert "Cancelled 1 search." in response.content.decode()
    job.refresh_from_db()
    assert job.status == SearchJob.Status.CANCELLED and job.files.get().status == SearchFile.Status.CANCELLED
    assert staff.get(reverse("admin:searches_searchjob_delete", args=[job.pk])).status_code == 403  # held
    SearchJob.objects.filter(pk=job.pk).update(heartbeat_at=None)  # its worker let go
    staff.post(changelist, {"action": "delete", "_selected_action": [job.pk]})
    assert not SearchJob.objects.filter(pk=job.pk).exists() and {mine, theirs} <= set(Vehicle.objects.all())


def test_the_hits_list_rounds_its_figures(staff, user):
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    video = SearchFile.objects.create(job=job, original_name="x" * 120 + ".mp4", kind="video")
    Hit.objects.create(job=job, file=video, vehicle=make_vehicle(user), start_s=5.800000000001,
                       end_s=7.3999999, distance=0.12345678, box=[1, 2, 3, 4])
    page = staff.get(reverse("admin:searches_hit_changelist")).content.decode()
    assert "5.8–7.4 s" in page and "0.123" in page
    assert "0.12345678" not in page and "5.800000000001" not in page
    assert f'<td class="field-file_name">{"x" * 39}…</td>' in page  # a long name does not widen the list
