"""CSV and JSON export of a job's hits."""
import csv
import io
import json

import pytest
from django.urls import reverse

from searches.models import Hit, SearchFile, SearchJob
from tests.web.conftest import make_vehicle

pytestmark = pytest.mark.django_db


@pytest.fixture
def job_with_hits(user):
    vehicle = make_vehicle(user, "=HYPERLINK(evil)")
    job = SearchJob.objects.create(owner=user, name="export job", status=SearchJob.Status.DONE)
    video = SearchFile.objects.create(job=job, original_name="a.mp4", kind="video", status="done", position=0)
    image = SearchFile.objects.create(job=job, original_name="b.jpg", kind="image", status="done", position=1)
    Hit.objects.create(job=job, file=video, vehicle=vehicle, start_s=5.4, end_s=7.2, best_time_s=6.0,
                       best_frame=150, start_frame=135, end_frame=180, distance=0.123456, box=[1, 2, 30, 40])
    Hit.objects.create(job=job, file=image, vehicle=vehicle, distance=0.2, box=[0, 0, 5, 5])
    return job, vehicle


def test_csv_export(alice, job_with_hits):
    job, vehicle = job_with_hits
    response = alice.get(reverse("searches:export_csv", args=[job.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["file"] for r in rows] == ["a.mp4", "b.jpg"]
    assert rows[0]["start_s"] == "5.4" and rows[0]["end_s"] == "7.2" and rows[0]["distance"] == "0.1235"
    assert rows[0]["x2"] == "30" and rows[0]["vehicle_id"] == str(vehicle.pk)
    assert rows[0]["vehicle_label"].startswith("'=")  # no spreadsheet formula injection


def test_json_export(alice, job_with_hits):
    job, vehicle = job_with_hits
    data = json.loads(alice.get(reverse("searches:export_json", args=[job.pk])).content)
    assert data["job"]["id"] == job.pk and len(data["hits"]) == 2
    assert data["hits"][0]["best_frame"] == 150 and data["hits"][1]["kind"] == "image"
    assert data["hits"][0]["vehicle_label"] == "=HYPERLINK(evil)"


@pytest.mark.parametrize("text", [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=2+2", "\r=2+2", "\n=2+2", "＝1+1", "＋1", "－1", "＠SUM(A1)",
])
def test_csv_neutralises_every_formula_lead(alice, user, text):
    """OWASP's list (= + - @ TAB CR), and LF and the full-width forms some spreadsheets also
    read as formulas; in user text: the vehicle label and the file name (a folder path)."""
    vehicle = make_vehicle(user, text)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    row = SearchFile.objects.create(job=job, original_name=f"{text}/cam.mp4", kind="video", status="done")
    Hit.objects.create(job=job, file=row, vehicle=vehicle, distance=0.2, box=[0, 0, 5, 5])
    [exported] = csv.DictReader(io.StringIO(alice.get(reverse("searches:export_csv", args=[job.pk])).content.decode()))
    assert exported["vehicle_label"] == "'" + text and exported["file"] == f"'{text}/cam.mp4"
