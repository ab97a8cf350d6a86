"""End to end in headless Chromium: login → register a car → upload a video → watch progress →
see the hit on the timeline → play it. Saves screenshots under test-artifacts/ (gitignored)."""
import os
from pathlib import Path

import pytest
from django.db import connections

from gallery.models import PendingPhoto
from searches.models import SearchJob
from tests.web.conftest import pick_index

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page():
    # The sync Playwright API runs an event loop; Django must allow ORM calls next to it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        page = context.new_page()
        # Anything the Content-Security-Policy blocks shows up as a console error.
        page.csp_errors = []
        page.on("console", lambda msg: page.csp_errors.append(msg.text)
                if "Content Security Policy" in msg.text or "Refused to" in msg.text else None)
        yield page
        browser.close()
    # Playwright runs in a greenlet with its own context, hence its own Django connections.
    connections.close_all()


def test_login_register_search_and_see_the_hit(live_server, page, user, car_frame_jpg, bikes, queue, run_worker):
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your vehicles")

    # Register: upload, click the detected car (htmx fills the form), name it, save.
    page.click("text=Register a vehicle")
    page.set_input_files("#id_photo", str(car_frame_jpg))
    page.click("text=Find vehicles")
    page.wait_for_selector(".det-box")
    # static/js/layout.js places the boxes once the photo has loaded (slow on a busy machine).
    page.wait_for_function("document.querySelector('.det-box').getBoundingClientRect().height > 10")
    box = page.locator(".det-box").first.bounding_box()
    assert box and box["width"] > 10 and box["height"] > 10
    index = pick_index(PendingPhoto.objects.get(owner=user))
    page.click(f"#det-{index}")
    page.wait_for_selector(f'#save-form[data-chosen="{index}"]')
    page.fill("#id_label", "Browser car")
    page.screenshot(path=str(ARTIFACTS / "register.png"))
    page.click("text=Save vehicle")
    page.wait_for_selector("h1:has-text('Browser car')")

    # Search: upload the clip, then watch the job page while a worker runs it.
    page.click("text=New search")
    page.set_input_files("#id_files", str(bikes))
    page.fill("#id_frame_stride", "5")
    page.click("text=Start search")
    page.wait_for_selector("#job-status")
    assert page.inner_text("#job-status") == "Queued"
    run_worker()  # the browser keeps polling the live server meanwhile
    page.wait_for_selector("#job-status:has-text('Done')")
    bar = page.wait_for_selector(".timeline .bar")
    # The best-frame thumbnail really displays (served, decoded, allowed by the CSP).
    page.wait_for_function("() => [...document.querySelectorAll('.hit-card img')]"
                           ".some(img => img.complete && img.naturalWidth > 0)", timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "job.png"), full_page=True)
    assert "Browser car" in page.inner_text(".timeline")
    assert SearchJob.objects.get().hits.exists()
    # The ORM calls of this test body run in the context of Playwright's event loop, with their
    # own connection: close it here, or PostgreSQL cannot drop the test database afterwards.
    connections.close_all()

    bar.click()
    video = page.wait_for_selector("video#player")
    assert "#t=" in video.get_attribute("src")
    page.screenshot(path=str(ARTIFACTS / "hit.png"))
    # Review: confirm the hit, and its frame becomes a second photo of the car.
    page.click("text=add this view to its photos")
    page.wait_for_selector("text=Added this view to Browser car (2 photos)")
    page.goto("about:blank")  # end the video's streaming requests before the server stops
    assert page.csp_errors == []  # the pages work under the CSP: no inline script or style
