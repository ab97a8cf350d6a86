"""End to end in headless Chromium, where the defects would be in the page: register a car →
search a video → cancel it → the end state and the hit appear without a reload → confirm the hit
once → the hit in the admin; the registration page's boxes; the layout of everyday pages.
Screenshots go to test-artifacts/ (gitignored)."""
import os
from pathlib import Path

import pytest
from django.core.files import File
from django.db import connections
from django.urls import reverse

from gallery.models import PendingPhoto
from searches.models import Hit, SearchFile, SearchJob
from searches.runner import JobRunner
from tests.web.conftest import make_vehicle, pick_index

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
CANCEL_AT_FRAME = 200  # bikes.mp4: the car has passed (frames ~135-185), the clip goes on to 250

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page():
    # The sync Playwright API runs an event loop; Django must allow ORM calls next to it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # "Cancel this search?"
        # Anything the Content-Security-Policy blocks shows up as a console error.
        page.csp_errors = []
        page.on("console", lambda msg: page.csp_errors.append(msg.text)
                if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        yield page
        assert page.csp_errors == []  # the pages work under the CSP: no inline script or style
        browser.close()
    # Playwright runs in a greenlet with its own context, hence its own Django connections: close
    # them, or PostgreSQL cannot drop the test database afterwards.
    connections.close_all()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def log_in(page, live_server, username="alice", password="alice-pass-123") -> None:
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your vehicles")


def cancel_from_the_page_at(page, frame: int, monkeypatch) -> None:
    """The user presses Cancel on the job page once the worker (run in this thread) is past `frame`."""
    report = JobRunner.on_progress

    def on_progress(self, search_file, progress):
        report(self, search_file, progress)
        if progress.frames_done >= frame and not self.job.files.filter(status="cancelled").exists():
            page.click("#job-progress button:has-text('Cancel')")
            page.wait_for_selector("#job-status:has-text('Cancelled')")
            page.wait_for_timeout(700)  # the runner's next status poll is due: it stops on the next frame
    monkeypatch.setattr(JobRunner, "on_progress", on_progress)


def test_register_search_cancel_confirm_and_see_it_in_the_admin(
        live_server, page, user, car_frame_jpg, bikes, queue, run_worker, monkeypatch):
    user.is_staff = user.is_superuser = True
    user.save()
    log_in(page, live_server)

    # Register: the best detection comes highlighted; click the car, name it, save.
    page.click("nav >> text=Register a vehicle")
    page.set_input_files("#id_photo", str(car_frame_jpg))
    page.click("text=Find vehicles")
    page.wait_for_selector("#det-0.chosen")
    # static/js/layout.js places the boxes once the photo has loaded (slow on a busy machine).
    page.wait_for_function("document.querySelector('.det-box').getBoundingClientRect().height > 10")
    box = page.locator(".det-box").first.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10
    assert page.inner_text("#box-text").startswith("Box: white ")  # colour, then type (car or truck: a wagon)
    index = pick_index(PendingPhoto.objects.get(owner=user))
    page.click(f"#det-{index}")
    page.wait_for_selector(f'#save-form[data-chosen="det-{index}"]')
    assert page.locator(".det-box.chosen").count() == 1
    page.fill("#id_label", "Browser car")
    shot(page, "register.png")
    page.click("text=Save vehicle")
    page.wait_for_selector("h1:has-text('Browser car')")

    # Search: only the devices some worker has (none publishes a GPU here); then the job page.
    page.click("nav >> text=New search")
    assert page.locator("#id_device option").all_inner_texts() == ["CPU"]
    page.set_input_files("#id_files", str(bikes))
    page.fill("#id_frame_stride", "5")
    shot(page, "new_search.png")
    page.click("text=Start search")
    page.wait_for_selector("#job-status:has-text('Queued')")
    page.evaluate("window.notReloaded = true")

    # Cancel while the worker runs: the page shows the end state and the hit found before the
    # cancel, without a reload.
    cancel_from_the_page_at(page, CANCEL_AT_FRAME, monkeypatch)
    run_worker()
    monkeypatch.undo()
    page.wait_for_selector("#job-progress:not([hx-get])")  # settled: the worker let go
    assert page.inner_text("#job-status") == "Cancelled" and "stopping" not in page.inner_text("#job-figures")
    page.wait_for_selector("#job-timeline h2:has-text('Hits (1)')")
    assert "1 cancelled" in page.inner_text("#job-progress summary")
    assert page.evaluate("window.notReloaded") is True
    job = SearchJob.objects.get()
    assert job.status == "cancelled" and job.hits.count() == 1 and job.files.get().status == "cancelled"
    page.click("#job-progress summary")  # the file: cancelled at its percentage, with its time
    shot(page, "job_cancelled.png")
    connections.close_all()  # this thread's ORM connection (see the page fixture)

    # The hit: its interval loops with the car outlined while it is in view; confirm it once.
    page.click(".timeline .bar")
    video = page.wait_for_selector("video#player")
    page.wait_for_selector("#video-box:not([hidden])")
    start, end = float(video.get_attribute("data-start")), float(video.get_attribute("data-end"))
    times = []
    for _ in range(12):  # 3 s of playing, longer than the hit: it must loop, not play on
        page.wait_for_timeout(250)
        times.append(page.evaluate("document.getElementById('player').currentTime"))
    assert all(start - 0.2 <= t <= max(end, start + 0.5) + 0.5 for t in times), (start, end, times)
    shot(page, "hit.png")
    page.click("text=add this view to its photos")
    page.wait_for_selector("text=Added this view to Browser car (2 photos)")
    assert page.locator("#confirmed").is_disabled() and page.locator("text=add this view to its photos").count() == 0
    shot(page, "hit_confirmed.png")
    page.click("text=Not this vehicle…")  # asks first
    page.wait_for_selector("h1:has-text('Not Browser car?')")
    shot(page, "hit_reject.png")
    page.click("text=Keep it")
    page.wait_for_selector("#confirmed")

    # The admin: the hit, and the list of hits, which fits the page.
    hit = Hit.objects.get()
    page.goto(live_server.url + reverse("admin:searches_hit_change", args=[hit.pk]))
    page.wait_for_selector("text=Browser car")
    shot(page, "admin_hit.png")
    page.goto(live_server.url + reverse("admin:searches_hit_changelist"))
    page.wait_for_selector("#result_list")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "admin_hits.png")
    page.goto(live_server.url + reverse("admin:searches_searchjob_change", args=[job.pk]))
    assert page.locator("select[name=status]").count() == 0  # state changes by the lifecycle actions only
    shot(page, "admin_job.png")
    page.goto("about:blank")  # end the video's streaming requests before the server stops
    connections.close_all()


def test_picking_a_box_among_overlapping_ones(live_server, page, user, car_frame_jpg):
    """A small car inside a big weak box (drawn on top of it): a click picks the smaller; a drag
    starting inside a box draws; "Use the whole image" outlines the whole photo."""
    pending = PendingPhoto(owner=user, width=640, height=272, detections=[
        {"box": [400.0, 100.0, 560.0, 200.0], "score": 0.9, "label": "car"},
        {"box": [10.0, 10.0, 630.0, 262.0], "score": 0.3, "label": "truck"},
    ])
    with open(car_frame_jpg, "rb") as fh:
        pending.image.save("street.jpg", File(fh), save=True)
    connections.close_all()
    log_in(page, live_server)
    page.goto(live_server.url + pending.get_absolute_url())
    page.wait_for_selector("#det-0.chosen")  # the best detection comes highlighted
    fields = "() => ['x1', 'y1', 'x2', 'y2'].map(n => Number(document.forms['save-form'].elements[n].value))"

    car, big = page.locator("#det-0").bounding_box(), page.locator("#det-1").bounding_box()
    page.mouse.click(big["x"] + 30, big["y"] + 30)  # outside the car: the big box
    page.wait_for_selector('#save-form[data-chosen="det-1"]')
    page.mouse.click(car["x"] + car["width"] / 2, car["y"] + car["height"] / 2)  # the car, under the big box
    page.wait_for_selector('#save-form[data-chosen="det-0"]')
    assert page.evaluate(fields) == [400, 100, 560, 200] and page.locator(".det-box.chosen").count() == 1

    # A drag that starts inside the car's box draws a new box, and nothing else stays highlighted.
    page.mouse.move(car["x"] + 10, car["y"] + 10)
    page.mouse.down()
    page.mouse.move(car["x"] + car["width"] + 40, car["y"] + car["height"] + 20, steps=5)
    page.mouse.up()
    page.wait_for_selector('#save-form[data-chosen="drawn by hand"]')
    assert page.locator(".det-box.chosen").count() == 0 and page.is_visible("#drawn-box")
    x1, y1, x2, y2 = page.evaluate(fields)
    assert 400 < x1 < 430 and 100 < y1 < 130 and x2 > 560 and y2 > 200
    assert page.inner_text("#box-text").startswith("Box: drawn by hand")
    shot(page, "pick_drawn.png")

    page.click("text=Use the whole image")
    assert page.evaluate(fields) == [0, 0, 640, 272]
    outline, photo = page.locator("#drawn-box").bounding_box(), page.locator("#photo-frame img").bounding_box()
    assert abs(outline["width"] - photo["width"]) < 2 and abs(outline["height"] - photo["height"]) < 2
    assert page.inner_text("#box-text").startswith("Box: the whole image")
    shot(page, "pick_whole.png")


def test_everyday_pages_lay_out_well(live_server, page, user):
    van = [make_vehicle(user, label) for label in ("Silver estate with roof bars", "Van")][-1]
    job = SearchJob.objects.create(owner=user, name="yard", status=SearchJob.Status.DONE, progress=1.0,
                                   elapsed_s=75, speed_fps=40)
    SearchFile.objects.create(job=job, original_name="cam1.mp4", kind="video", status="done", progress=1.0,
                              elapsed_s=62, speed_fps=43, frames_done=2500, frames_total=2500)
    connections.close_all()
    log_in(page, live_server)
    # A vehicle card's links stay on one line.
    heights = page.eval_on_selector_all(".vehicle .actions", "els => els.map(e => e.getBoundingClientRect().height)")
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.vehicle .actions')).lineHeight)")
    assert heights and all(h <= line * 1.2 for h in heights), (heights, line)
    assert page.evaluate("fetch('/favicon.ico').then(r => r.status)") == 200
    shot(page, "gallery.png")

    # The threshold's placeholder is not cut off.
    page.goto(live_server.url + reverse("searches:create"))
    fits = page.evaluate("""() => {
        const input = document.getElementById('id_threshold'), style = getComputedStyle(input);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = style.font;
        const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return ctx.measureText(input.placeholder).width <= room;
    }""")
    assert fits

    # A finished search: how long it took and how fast, for the job and for its file.
    page.goto(live_server.url + job.get_absolute_url())
    assert "took 1 min 15 s · 40 frames/s" in page.inner_text("#job-figures")
    page.click("#job-progress summary")
    assert "1 min 02 s · 43 frames/s" in page.inner_text("table.files")
    shot(page, "job_done.png")
    page.goto(live_server.url + reverse("searches:rerun", args=[job.pk]))
    assert page.input_value("#id_name") == "Re-run of yard"

    page.goto(live_server.url + reverse("gallery:upload") + f"?vehicle={van.pk}")
    assert page.inner_text("h1") == "Add a photo of “Van”"
    shot(page, "add_photo.png")


def test_the_polled_fragment_stays_while_nothing_changes_and_follows_each_change(live_server, page, user):
    """htmx 2: a poll answered 204 (the page's copy is current) leaves the fragment in place and
    polling goes on; a published change and a pause (searches.lifecycle) show up at the next poll."""
    from django.utils import timezone

    from searches import lifecycle, progress_cache

    now = timezone.now()
    job = SearchJob.objects.create(owner=user, name="watched", status=SearchJob.Status.RUNNING, progress=0.3,
                                   started_at=now, heartbeat_at=now, rq_job_id="rq-watched")
    SearchFile.objects.create(job=job, original_name="cam1.mp4", kind="video", status="running", progress=0.3)
    connections.close_all()
    log_in(page, live_server)
    polls = []
    page.on("response", lambda r: polls.append(r.status) if "/progress/" in r.url else None)
    page.goto(live_server.url + job.get_absolute_url())
    page.wait_for_timeout(3500)
    assert polls[:1] == [200] and 204 in polls, polls  # the first copy has no version yet
    assert page.locator("#job-progress[hx-get]").count() == 1 and page.inner_text("#job-figures").startswith("30%")

    SearchJob.objects.filter(pk=job.pk).update(progress=0.6)
    progress_cache.publish(job.pk)  # the worker's next progress write
    page.locator("#job-figures", has_text="60%").wait_for(timeout=5000)
    assert lifecycle.pause(job)
    lifecycle.let_go(job.pk, "rq-watched", lifecycle.StopReason.PAUSE)
    page.wait_for_selector("#job-progress:not([hx-get])")  # settled: polling stops
    assert page.inner_text("#job-status") == "Paused"
    connections.close_all()


def test_index_footage_then_explore_register_a_sighting_and_see_where_it_was_seen(
        live_server, page, user, client, bikes, queue, run_worker):
    """Footage first, questions later: a video indexed with no vehicle registered; its camera and
    time set on "Footage"; a sighting registered from "Explore"; the vehicle's "Where it was seen"."""
    from tests.web.test_search_jobs import start_job

    client.force_login(user)
    job = start_job(client, [bikes])
    run_worker()
    job.refresh_from_db()
    assert job.status == "done" and job.files.get().footage.sightings.exists()
    connections.close_all()
    log_in(page, live_server)

    page.click("nav >> text=Footage")
    page.click("text=Edit")
    page.fill("#id_camera_name", "North gate")
    page.fill("#id_recorded_at", "2024-05-01T10:00:00")
    page.click("button:has-text('Save')")
    page.wait_for_selector("td:has-text('North gate')")

    page.click("nav >> text=Explore")
    card = page.locator(".card.sighting").first
    card.wait_for()
    assert "North gate" in card.inner_text() and "2024-05-01 10:00" in card.inner_text()
    shot(page, "explore.png")
    card.locator("input[name=label]").fill("Explored car")
    card.locator("button:has-text('Register')").click()
    page.wait_for_selector("h1:has-text('Explored car')")
    page.wait_for_selector("#journey h2:has-text('Where it was seen')")  # loaded by htmx
    page.wait_for_selector(".journey-camera .track-name:has-text('North gate')")
    assert page.locator(".journey-camera .bar").count() >= 1
    shot(page, "where_it_was_seen.png")
    connections.close_all()
