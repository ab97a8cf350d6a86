"""A search's life (searches.lifecycle): each transition guarded and saying whether it happened,
the pages offering exactly what the guards allow, and the races two requests can run into."""
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from searches import lifecycle
from searches.models import SearchFile, SearchJob
from tests.media import FIXTURES
from tests.web.test_search_jobs import start_job

pytestmark = pytest.mark.django_db
Status = SearchJob.Status
TRANSITIONS = {"pause": lifecycle.pause, "resume": lifecycle.resume, "cancel": lifecycle.cancel,
               "delete": lifecycle.delete}
BUTTONS = {"pause": ">Pause</button>", "resume": "/resume/", "cancel": ">Cancel</button>", "delete": ">Delete…</a>"}
AFTER = {"pause": Status.PAUSED, "resume": Status.QUEUED, "cancel": Status.CANCELLED, "delete": None}


def job_in(user, status, held=False):
    """A job in `status`; held: a worker holds it (a heartbeat: running, or still stopping)."""
    job = SearchJob.objects.create(owner=user, status=status, rq_job_id="rq-old",
                                   heartbeat_at=timezone.now() if held else None)
    SearchFile.objects.create(job=job, original_name="a.mp4", kind="video", status=SearchFile.Status.PENDING)
    return job


@pytest.mark.parametrize("held", [False, True])
@pytest.mark.parametrize("status", list(Status))
def test_each_transition_happens_exactly_where_the_page_offers_it(alice, user, queue, status, held):
    for action, transition in TRANSITIONS.items():
        job = job_in(user, status, held)
        fragment = alice.get(reverse("searches:progress", args=[job.pk])).content.decode()
        offered = job.allows(action)
        assert (BUTTONS[action] in fragment) == offered, (action, fragment)
        assert transition(job) == offered, action
        after = SearchJob.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        assert after == (AFTER[action] if offered else status), action
        assert not transition(job), action  # the same request again changes nothing


def test_a_cancel_between_create_and_queueing_ends_cancelled(alice, user, street_car, queue, run_worker, monkeypatch):
    other_tab = Client()
    other_tab.force_login(user)
    real_new_rq_id = lifecycle.new_rq_id

    def cancel_first(pk):  # lifecycle.queue has read nothing yet; its UPDATE comes next
        assert other_tab.post(reverse("searches:action", args=[pk, "cancel"])).status_code == 302
        return real_new_rq_id(pk)
    monkeypatch.setattr(lifecycle, "new_rq_id", cancel_first)
    job = start_job(alice, [FIXTURES / "red_car.jpg"])
    monkeypatch.undo()
    run_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and queue.count == 0 and job.rq_job_id == ""
    assert list(job.files.values_list("status", flat=True)) == [SearchFile.Status.CANCELLED]


def test_a_cancel_landing_while_resume_is_on_its_way_wins(alice, user, street_car, queue, run_worker, monkeypatch):
    job = start_job(alice, [FIXTURES / "red_car.jpg"])
    alice.post(reverse("searches:action", args=[job.pk, "pause"]))
    run_worker()  # the queued RQ job finds the search paused and leaves it alone
    other_tab = Client()
    other_tab.force_login(user)
    real_new_rq_id = lifecycle.new_rq_id

    def cancel_first(pk):  # the resume request has loaded the paused job; its UPDATE comes next
        other_tab.post(reverse("searches:action", args=[pk, "cancel"]))
        return real_new_rq_id(pk)
    monkeypatch.setattr(lifecycle, "new_rq_id", cancel_first)
    response = alice.post(reverse("searches:action", args=[job.pk, "resume"]), follow=True)
    monkeypatch.undo()
    assert "Only a paused or failed job can be resumed." in response.content.decode()
    run_worker()
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and queue.count == 0  # not queued again, not DONE
    assert job.files.get().status == SearchFile.Status.CANCELLED


@pytest.mark.parametrize("htmx", [False, True])
def test_a_resume_racing_a_delete_answers_with_the_list_not_a_500(alice, user, queue, monkeypatch, htmx):
    job = job_in(user, Status.PAUSED)
    other_tab = Client()
    other_tab.force_login(user)
    real_new_rq_id = lifecycle.new_rq_id

    def delete_first(pk):
        assert other_tab.post(reverse("searches:delete", args=[pk])).status_code == 302
        return real_new_rq_id(pk)
    monkeypatch.setattr(lifecycle, "new_rq_id", delete_first)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = alice.post(reverse("searches:action", args=[job.pk, "resume"]), **headers)
    assert response.status_code in (200, 302)
    target = response["HX-Redirect"] if htmx else response["Location"]
    assert target == reverse("searches:list") and not SearchJob.objects.exists() and queue.count == 0
    assert "This search was deleted." in alice.get(target).content.decode()


def test_a_cancelled_job_is_watched_until_its_worker_let_go(alice, user):
    job = job_in(user, Status.RUNNING, held=True)
    SearchFile.objects.filter(job=job).update(status=SearchFile.Status.RUNNING, progress=0.35)
    fragment = alice.post(reverse("searches:action", args=[job.pk, "cancel"]), HTTP_HX_REQUEST="true").content.decode()
    # Cancelled, but its worker has not stopped and stored what it found: the page keeps polling.
    assert 'id="job-status">Cancelled<' in fragment and "stopping…" in fragment and 'hx-trigger="every 1s"' in fragment
    assert job.files.get().status == SearchFile.Status.CANCELLED  # the files not searched: at once
    lifecycle.let_go(job.pk, "rq-old", lifecycle.StopReason.CANCEL)
    fragment = alice.get(reverse("searches:progress", args=[job.pk])).content.decode()
    assert "every 1s" not in fragment and "stopping…" not in fragment
    assert 'class="status cancelled">Cancelled</span>' in fragment and "35%" in fragment


def test_a_paused_jobs_file_reads_paused(alice, user):
    job = job_in(user, Status.RUNNING, held=True)
    SearchFile.objects.filter(job=job).update(status=SearchFile.Status.RUNNING, progress=0.4, resume_frame=100)
    fragment = alice.post(reverse("searches:action", args=[job.pk, "pause"]), HTTP_HX_REQUEST="true").content.decode()
    assert "Stopping…" in fragment and ">Running<" not in fragment and "/resume/" not in fragment
    SearchFile.objects.filter(job=job).update(status=SearchFile.Status.PENDING)  # what the runner writes
    lifecycle.let_go(job.pk, "rq-old", lifecycle.StopReason.PAUSE)
    fragment = alice.get(reverse("searches:progress", args=[job.pk])).content.decode()
    assert 'class="status paused">Paused</span>' in fragment and "resumes at frame 100" in fragment
    assert "/resume/" in fragment and "every 1s" not in fragment


def test_an_action_tells_the_page_when_the_hits_changed(alice, user):
    job = job_in(user, Status.RUNNING, held=True)
    url = reverse("searches:action", args=[job.pk, "cancel"])
    response = alice.post(url, {"hits": "0-0"}, HTTP_HX_REQUEST="true")
    assert "HX-Trigger" not in response  # no hits then, none now
    job = job_in(user, Status.RUNNING, held=True)
    from tests.web.conftest import make_vehicle

    job.hits.create(file=job.files.get(), vehicle=make_vehicle(user), distance=0.1, box=[1, 2, 3, 4], end_frame=9)
    response = alice.post(reverse("searches:action", args=[job.pk, "cancel"]), {"hits": "0-0"}, HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "hits-changed"  # the timeline fetches the hit stored before the cancel
