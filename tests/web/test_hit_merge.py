"""Hits of one vehicle in one file are stored as disjoint intervals (searches.hit_merge)."""
from dataclasses import replace

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from searches.hit_merge import store_folded
from searches.models import Hit, SearchFile, SearchJob
from searches.runner import JobRunner
from tests.web.conftest import make_vehicle
from tests.web.test_fault_drill import interval

pytestmark = pytest.mark.django_db


@pytest.fixture
def video(user):
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING)
    return SearchFile.objects.create(job=job, original_name="yard.mp4", kind="video")


def piece(video, vehicle, start_s, end_s, distance, thumb=True):
    hit = Hit(job=video.job, file=video, vehicle=vehicle, start_s=start_s, end_s=end_s,
              start_frame=int(start_s * 10), end_frame=int(end_s * 10), best_time_s=start_s,
              best_frame=int(start_s * 10), distance=distance, box=[0, 0, 1, 1])
    if thumb:
        hit.thumbnail.save("hit.jpg", ContentFile(b"jpeg"), save=False)
    return hit


def stored(video):
    return [(h.start_s, h.end_s, h.distance) for h in Hit.objects.filter(file=video).order_by("start_s")]


def test_pieces_of_a_long_presence_become_one_hit_with_the_best_thumbnail(user, video,
                                                                         django_capture_on_commit_callbacks):
    car = make_vehicle(user, "Parked")
    with django_capture_on_commit_callbacks(execute=True):  # replaced files go once the rows are committed
        first = piece(video, car, 0.0, 60.0, 0.2)
        assert store_folded(first, gap_s=2.0)
        better = piece(video, car, 60.1, 120.0, 0.1)
        assert store_folded(better, gap_s=2.0)  # its thumbnail is now the hit's
        worse = piece(video, car, 120.1, 180.0, 0.3)
        assert not store_folded(worse, gap_s=2.0)  # the caller deletes the unused thumbnail
    assert stored(video) == [(0.0, 180.0, 0.1)]
    hit = Hit.objects.get(file=video)
    assert hit.thumbnail.name == better.thumbnail.name and hit.end_frame == 1800 and hit.best_time_s == 60.1
    assert not default_storage.exists(first.thumbnail.name)  # replaced, so deleted


def test_a_repeated_piece_changes_nothing_and_a_late_one_bridges_two_hits(user, video):
    car, other = make_vehicle(user, "A"), make_vehicle(user, "B")
    store_folded(piece(video, car, 0.0, 5.0, 0.2), gap_s=2.0)
    store_folded(piece(video, car, 20.0, 25.0, 0.1), gap_s=2.0)
    store_folded(piece(video, other, 6.0, 19.0, 0.1), gap_s=2.0)  # another vehicle never joins
    assert not store_folded(piece(video, car, 1.0, 4.0, 0.25), gap_s=2.0)  # a resumed pass repeating
    assert stored(video) == [(0.0, 5.0, 0.2), (6.0, 19.0, 0.1), (20.0, 25.0, 0.1)]
    bridge = piece(video, car, 6.0, 19.0, 0.3)
    assert not store_folded(bridge, gap_s=2.0)
    assert [(h.start_s, h.end_s) for h in Hit.objects.filter(vehicle=car)] == [(0.0, 25.0)]
    assert Hit.objects.get(vehicle=car).distance == 0.1
    # The bridged hit's thumbnail was taken over, so it stays; the first hit's was dropped.
    assert default_storage.exists(Hit.objects.get(vehicle=car).thumbnail.name)


def test_the_thumbnail_of_a_shrunk_frame_outlines_the_vehicle(user):
    vehicle = make_vehicle(user)
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.RUNNING, rq_job_id="rq-1")
    search_file = SearchFile.objects.create(job=job, original_name="4k.mp4", kind="video")
    runner = JobRunner(job, "rq-1", engine=None, gallery=None)
    box = (2000.0, 1000.0, 2800.0, 1400.0)  # in the 3840 x 2160 video
    shrunk = np.zeros((240, 960 // 2, 3), np.uint8)  # the engine kept the frame at 1/8 scale
    runner.on_interval(search_file, replace(interval(vehicle, 100, 150), box=box, frame=shrunk, frame_scale=0.125))
    hit = Hit.objects.get()
    assert hit.box == list(box)  # stored in video pixels (the review re-reads the full frame)
    with hit.thumbnail.open("rb") as fh:
        thumb = cv2.imdecode(np.frombuffer(fh.read(), np.uint8), cv2.IMREAD_COLOR)
    ys, xs = np.nonzero(thumb.sum(axis=2) > 200)  # the outline on a black frame
    assert abs(xs.min() - 2000 / 8) <= 4 and abs(ys.max() - 1400 / 8) <= 4  # left and bottom edges (the label sticks out right and up)
