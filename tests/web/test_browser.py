"""The whole page in a real browser (Debian's chromium driven by Playwright), phone-sized, on a
tiny base model: upload an archive, read the table, train with live progress, reload mid-job,
write posts, share link, use one as the preview picture, open the card. Screenshots go to
$TWEETTWIN_SCREENSHOTS (default: the test's temp folder)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.web.serving import dump_stacks, log_tail, start_server

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARCHIVE = Path(__file__).parents[2] / "examples" / "sample-archive.zip"


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("TWEETTWIN_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return lambda page, name: page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.fixture
def server(tiny_base, tmp_path):
    proc, url = start_server(["--base-model", str(tiny_base)], tmp_path / "ws")
    yield url, tmp_path / "ws", proc
    proc.terminate()
    proc.wait(10)


def upload(page) -> None:
    """Upload the sample archive and wait for its dataset table."""
    page.set_input_files("#file", str(ARCHIVE))
    page.click("#upload")
    page.wait_for_selector("#dataset", state="visible", timeout=60_000)


def wait_for_job(page, server, condition: str, timeout_s: float) -> None:
    """Wait until ``condition`` (JS) holds; a job that failed, or a wait that timed out, fails
    the test with what the job and the server said, not a bare timeout."""
    failed = "document.querySelector('#job-status').textContent.startsWith('Training failed')"
    settled = f"({condition}) || {failed}"
    try:
        page.wait_for_function(settled, timeout=timeout_s * 1000)
    except sync_api.TimeoutError:
        pass
    if not page.evaluate(condition):
        url, workspace, proc = server
        dump_stacks(proc)
        try:
            jobs = httpx.get(f"{url}/api/jobs", timeout=10).text[:2000]  # without their events
        except httpx.HTTPError as ex:
            jobs = f"(the server did not answer: {ex}; exit status {proc.poll()})"
        pytest.fail(
            f"waited {timeout_s:.0f} s for {condition}\n"
            f"page: {page.inner_text('#job-status')!r} step {page.inner_text('#stat-step')!r}\n"
            f"jobs: {jobs}\nserver: {log_tail(workspace, 8000)}"
        )


def test_the_whole_flow_in_chromium(server, shots):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
        page.goto(server[0])
        assert page.locator("#no-models").is_visible()
        page.click("#upload")  # no file chosen: an error in plain words
        assert "Choose a file first" in page.inner_text("#error")
        shots(page, "01-start-error")

        upload(page)
        assert page.locator("#error").is_hidden()
        assert page.locator("#authors tbody tr").count() == 1
        assert page.locator("#sample-posts li").count() == 5
        shots(page, "02-dataset")
        assert fits(page)

        page.click("#train")
        wait_for_job(page, server, "document.querySelector('#stat-step').textContent !== '–'", 180)
        assert page.locator("#chart polyline").count() == 2
        shots(page, "03-training")
        page.reload()  # the same job comes back
        page.wait_for_selector("#job", state="visible")
        done = "document.querySelector('#job-status').textContent.startsWith('Done')"
        wait_for_job(page, server, done, 300)
        assert page.locator("#chart circle").count() >= 1  # validation points
        done, total = page.inner_text("#stat-step").split(" / ")  # step of the planned steps
        assert done == total and int(total) > 1
        assert float(page.inner_text("#stat-tps").replace(",", "")) > 0
        assert page.inner_text("#stat-eta") == "0 s"
        shots(page, "04-trained")

        page.wait_for_selector("#use-form", state="visible")
        page.click("#generate")
        page.wait_for_selector("#generated li", timeout=120_000)
        posts = page.locator("#generated li")
        assert 1 <= posts.count() <= 10
        first = posts.nth(0).locator(".text").inner_text()
        assert first.startswith("My dream is")
        share = posts.nth(0).locator(".share").get_attribute("href")
        assert share.startswith("https://twitter.com/intent/tweet?text=")
        assert "AI-generated" in sync_api_unquote(share)
        shots(page, "05-posts")

        posts.nth(0).locator(".use-preview").click()
        page.wait_for_function(
            "document.querySelector('#preview').naturalWidth > 0", timeout=60_000
        )
        assert page.locator("#preview-box").is_visible()
        shots(page, "06-preview")
        assert fits(page), "the page is wider than a phone screen"

        with page.expect_popup() as popup:
            page.click("#card-link")
        card = popup.value
        card.wait_for_load_state()
        assert card.locator("h1").count() >= 1 and "---" not in card.inner_text("body")[:20]
        shots(card, "07-card")
        assert fits(card), "the card is wider than a phone screen"
        browser.close()


def test_the_page_follows_training_without_its_event_stream(server):
    """Where the live stream never gets through (a proxy that buffers or blocks it), the page
    reads the job every few seconds instead: the chart fills and the job ends as done."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.route("**/events", lambda route: route.abort())
        page.goto(server[0])
        upload(page)
        page.click("#train")
        done = "document.querySelector('#job-status').textContent.startsWith('Done')"
        wait_for_job(page, server, done, 300)
        step, total = page.inner_text("#stat-step").split(" / ")
        assert step == total and int(total) > 1
        assert (
            page.locator("#chart polyline").count() == 2
            and page.locator("#chart circle").count() >= 1
        )
        page.wait_for_selector("#use-form", state="visible")  # the new model is offered
        browser.close()


def sync_api_unquote(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url)


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
