"""Devices: the search form offers what the workers have (published in Redis, on any machine),
and a job that asked for a GPU it did not get says so, and why."""
import warnings

import pytest
from django.core.files import File
from django.urls import reverse

from searches import devices, lifecycle
from searches.models import SearchFile, SearchJob
from searches.worker import VReIDWorker
from tests.media import FIXTURES

pytestmark = pytest.mark.django_db


def device_options(client) -> list[str]:
    page = client.get(reverse("searches:create")).content.decode()
    select = page[page.index('name="device"'):]
    select = select[:select.index("</select>")]
    return [label for label in ("CPU", "GPU (CUDA)") if f">{label}</option>" in select]


def test_the_form_offers_only_the_devices_some_worker_has(alice, queue):
    assert device_options(alice) == ["CPU"]  # no worker runs: CPU, the queue waits for any worker
    # A worker on a GPU machine publishes its devices; its key expires with it.
    queue.connection.set(devices.KEY_PREFIX + "gpu-box.4242", "cpu,cuda", ex=60)
    assert device_options(alice) == ["CPU", "GPU (CUDA)"]
    queue.connection.delete(devices.KEY_PREFIX + "gpu-box.4242")
    assert device_options(alice) == ["CPU"]
    response = alice.post(reverse("searches:create"), {"device": "cuda", "frame_stride": 2, "proposals": "detector"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_a_worker_publishes_its_devices_with_its_heartbeat(queue):
    worker = VReIDWorker([queue], connection=queue.connection)
    key = devices.KEY_PREFIX + worker.name
    worker.heartbeat()
    assert queue.connection.get(key) == b"cpu"  # this machine's onnxruntime has no CUDA provider
    assert 0 < queue.connection.ttl(key) <= worker.worker_ttl + 60  # lives as long as the worker's key
    assert devices.published() == {"cpu"}
    worker.register_death()
    assert not queue.connection.exists(key)


def test_a_job_that_fell_back_to_cpu_says_so_and_why(alice, user, street_car, queue, run_worker):
    job = SearchJob.objects.create(owner=user, device="cuda", frame_stride=5)
    row = SearchFile(job=job, original_name="red_car.jpg", kind="image")
    with open(FIXTURES / "red_car.jpg", "rb") as fh:
        row.file.save("red_car.jpg", File(fh), save=True)
    lifecycle.queue(job)  # the form offers no GPU here: as if a GPU worker had been there
    with warnings.catch_warnings():  # the engine's own fallback warning (once per process)
        warnings.simplefilter("ignore", RuntimeWarning)
        run_worker()
    job.refresh_from_db()
    assert job.status == SearchJob.Status.DONE and job.ran_on == "cpu" and job.fell_back
    assert "no CUDA provider" in job.device_fallback
    page = alice.get(job.get_absolute_url()).content.decode()
    assert "GPU (CUDA) (ran on CPU)" in page
    assert "Ran on CPU, not GPU (CUDA): " in page and "no CUDA provider (install onnxruntime-gpu)" in page
