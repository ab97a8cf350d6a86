"""Long uploads and big deletes hold no transaction (on SQLite: the database's only write lock), so
other users' writes go on meanwhile (issue 8, F1). Real threads, a real database file."""
import os
import threading
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connections
from django.test import Client
from django.urls import reverse

from searches import zips
from searches.models import SearchFile, SearchJob
from searches.uploads import JobFileAdder
from tests.media import FIXTURES
from tests.web.conftest import make_vehicle, zip_bytes

pytestmark = pytest.mark.django_db(transaction=True)
JPEG = (FIXTURES / "red_car.jpg").read_bytes()
SEARCH_FIELDS = {"device": "cpu", "frame_stride": "5", "tracking": "on", "proposals": "detector"}
QUICK_S = 3.0  # a label save normally takes milliseconds; SQLite's busy timeout is 20 s


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def in_thread(fn):
    """Run fn() in a thread (closing its database connection after); returns (thread, result list)."""
    result = []

    def run():
        try:
            result.append(fn())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def timed(fn):
    start = time.monotonic()
    return fn(), time.monotonic() - start


def bob_writes(bob_client, vehicle, password_client):
    """Bob saves a label and someone logs in: both write to the database."""
    label, label_s = timed(lambda: bob_client.post(reverse("gallery:vehicle_edit", args=[vehicle.pk]), {"label": "Van"}))
    login, login_s = timed(lambda: password_client.post(reverse("login"), {"username": "bob", "password": "bob-pass-123"}))
    return label.status_code, label_s, login.status_code, login_s


def test_other_users_write_while_a_big_zip_is_extracted(user, other_user, queue, monkeypatch):
    extracting, finish = threading.Event(), threading.Event()
    copy_member = zips._copy_member

    def slow_copy(zf, info, out, limits):  # holds the extraction at its third member
        if info.filename == "2.jpg":
            extracting.set()
            finish.wait(30)
        return copy_member(zf, info, out, limits)

    monkeypatch.setattr(zips, "_copy_member", slow_copy)
    archive = ContentFile(zip_bytes([(f"{i}.jpg", JPEG) for i in range(5)]), name="cams.zip")
    vehicle = make_vehicle(other_user, "Bob's car")
    bob, visitor = logged_in(other_user), Client()
    upload, uploaded = in_thread(lambda: logged_in(user).post(
        reverse("searches:create"), {**SEARCH_FIELDS, "files": [archive]}))
    try:
        assert extracting.wait(30)
        writes, done = in_thread(lambda: bob_writes(bob, vehicle, visitor))
        writes.join(QUICK_S * 2)
        assert not writes.is_alive(), "Bob's writes waited for the extraction"
        label_status, label_s, login_status, login_s = done[0]
        assert label_status == 302 and login_status == 302 and label_s < QUICK_S and login_s < QUICK_S
    finally:
        finish.set()
        upload.join(60)
    assert uploaded[0].status_code == 302
    assert SearchJob.objects.get(owner=user).files.exclude(file="").count() == 5


def test_other_users_write_while_a_big_search_is_deleted(user, other_user, monkeypatch):
    """A search's stored files are deleted after the rows' transaction has committed: a slow
    storage (here held at its first delete) keeps no other user waiting."""
    job = SearchJob.objects.create(owner=user, status=SearchJob.Status.DONE)
    rows = []
    for i in range(3000):
        row = SearchFile(job=job, original_name=f"{i}.jpg", kind="image", position=i)
        row.file.name = default_storage.save(f"jobs/user_{user.pk}/bulk/{i}.jpg", ContentFile(b"jpeg"))
        rows.append(row)
    SearchFile.objects.bulk_create(rows)
    vehicle = make_vehicle(other_user, "Bob's car")
    bob, visitor = logged_in(other_user), Client()
    deleting, finish = threading.Event(), threading.Event()
    storage_delete = FileSystemStorage.delete

    def slow_delete(storage, name):
        deleting.set()
        finish.wait(30)
        return storage_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", slow_delete)
    delete, deleted = in_thread(lambda: logged_in(user).post(reverse("searches:delete", args=[job.pk])))
    try:
        assert deleting.wait(60)
        writes, done = in_thread(lambda: bob_writes(bob, vehicle, visitor))
        writes.join(QUICK_S * 2)
        assert not writes.is_alive(), "Bob's writes waited for the files to be deleted"
        label_status, label_s, login_status, login_s = done[0]
        assert label_status == 302 and login_status == 302 and label_s < QUICK_S and login_s < QUICK_S
    finally:
        finish.set()
        delete.join(120)
    assert deleted[0].status_code == 302 and not SearchFile.objects.exists()
    assert not default_storage.listdir(f"jobs/user_{user.pk}/bulk")[1]  # every file gone


def test_stored_files_are_removed_when_the_transaction_rolls_back(user, queue, monkeypatch, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)

    def fail_after_insert(self):
        save_rows(self)
        raise RuntimeError("the database went away")  # rolls the transaction back

    save_rows = JobFileAdder.save_rows
    monkeypatch.setattr(JobFileAdder, "save_rows", fail_after_insert)
    archive = ContentFile(zip_bytes([(f"{i}.jpg", JPEG) for i in range(3)]), name="cams.zip")
    response = logged_in(user).post(reverse("searches:create"), {**SEARCH_FIELDS, "files": [archive]})
    assert response.status_code == 500
    assert not SearchJob.objects.exists() and not SearchFile.objects.exists()
    assert [files for _, _, files in os.walk(tmp_path) if files] == []  # no orphans
    assert not os.path.exists(tmp_path / "jobs") or not any(
        dirs for _, dirs, _ in os.walk(tmp_path / "jobs" / f"user_{user.pk}"))  # nor their folders
