"""The reference dashboard in a real Chromium against a real API and worker."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.support.browser import ConsoleWatch, launch
from tests.support.factories import BASE, create_body, token, uploaded_recording

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async for launched in launch():
        yield launched


@pytest.fixture(scope="module")
def user(backends) -> dict[str, str]:
    """A user of this module's own, so that other tests' recordings never show in its lists."""
    subject = f"dash-{secrets.token_hex(4)}"
    return {"subject": subject, "token": token(backends.jwt_secret, subject)}


@pytest.fixture
async def watch() -> ConsoleWatch:
    return ConsoleWatch()


@pytest.fixture
async def page(browser, watch: ConsoleWatch) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    opened = watch.attach(await context.new_page())
    yield opened
    await context.close()
    assert watch.errors == [], watch.errors  # no page of the dashboard logs an error


async def _analysed(http: httpx.AsyncClient, api: Api, auth: dict[str, str]) -> str:
    rid = await uploaded_recording(http, api, auth, scenario="login-500")
    assert (await http.post(f"{api.url}{BASE}/{rid}/analyze", headers=auth)).status_code == 200
    deadline = time.monotonic() + 240
    while (await http.get(f"{api.url}{BASE}/{rid}", headers=auth)).json()["status"] != "analyzed":
        assert time.monotonic() < deadline, "the analysis did not finish"
        await asyncio.sleep(0.5)
    return rid


@pytest.fixture(scope="module")
async def analysed(local_api: Api, user) -> str:
    """One recording of the module's user, analysed, shared by the tests that only read it."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await _analysed(http, local_api, {"Authorization": f"Bearer {user['token']}"})


async def test_sign_in_by_fragment_keeps_the_token_out_of_the_address(
    page, local_api: Api, user, analysed
):
    await page.goto(f"{local_api.url}/#token={user['token']}")
    await page.get_by_role("list", name="Recordings").wait_for()
    assert "token" not in page.url
    assert await page.evaluate("sessionStorage.getItem('recordings.token')") == user["token"]
    await page.locator(f"a[href='/recordings/{analysed}']").wait_for()


async def test_sign_in_with_the_form(page, local_api: Api, user, analysed):
    await page.goto(local_api.url + "/")
    await page.get_by_label("Access token").fill(user["token"])
    await page.get_by_role("button", name="Sign in").click()
    await page.locator(f"a[href='/recordings/{analysed}']").wait_for()


async def test_a_bad_token_says_so_and_asks_again(browser, local_api: Api):
    context = await browser.new_context()
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    await opened.goto(f"{local_api.url}/#token=not-a-token")
    await opened.get_by_role("alert").filter(has_text="invalid or has expired").wait_for()
    assert await opened.get_by_label("Access token").is_visible()
    assert errors == []
    await context.close()


async def test_the_list_follows_an_analysis_live(page, local_api: Api, user, http):
    auth = {"Authorization": f"Bearer {user['token']}"}
    rid = await uploaded_recording(http, local_api, auth, scenario="login-500")
    await page.goto(f"{local_api.url}/#token={user['token']}")
    row = page.locator(f"li.recording[data-id='{rid}']")
    await row.wait_for()
    assert await row.get_attribute("data-status") == "pending"
    await asyncio.sleep(0.5)  # the page has subscribed to its user's updates
    assert (
        await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=auth)
    ).status_code == 200
    await page.locator(f"li.recording[data-id='{rid}'][data-status='analyzed']").wait_for(
        timeout=240_000
    )


async def test_analysing_from_the_page_shows_progress_then_results(
    page, local_api: Api, user, http
):
    auth = {"Authorization": f"Bearer {user['token']}"}
    rid = await uploaded_recording(http, local_api, auth, scenario="login-500")
    await page.goto(f"{local_api.url}/recordings/{rid}#token={user['token']}")
    await page.get_by_role("button", name="Analyze").click()
    bar = page.get_by_role("progressbar")
    await bar.wait_for()
    seen: list[int] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if await page.get_by_role("button", name="Re-analyze").count():
            break
        if await bar.count():
            value = await bar.get_attribute("aria-valuenow")
            if value is not None and (not seen or int(value) != seen[-1]):
                seen.append(int(value))
        await asyncio.sleep(0.05)
    await page.get_by_role("button", name="Re-analyze").wait_for(timeout=5_000)
    assert seen and seen == sorted(seen), " ".join(map(str, seen))  # it only moves forward
    assert len(set(seen)) >= 3, seen  # and it moved while the page watched
    assert await page.locator("ol.findings button").count() >= 1


async def test_a_finding_seeks_the_video_and_shows_its_evidence(
    page, local_api: Api, user, analysed, http
):
    auth = {"Authorization": f"Bearer {user['token']}"}
    findings = (await http.get(f"{local_api.url}{BASE}/{analysed}/summary", headers=auth)).json()[
        "findings"
    ]
    finding = findings[0]
    await page.goto(f"{local_api.url}/recordings/{analysed}#token={user['token']}")
    await page.locator("video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.onloadedmetadata = r)"
    )
    await page.get_by_role("button", name=finding["title"]).first.click()
    await page.wait_for_function(
        "t => Math.abs((document.querySelector('video')?.currentTime ?? -1e9) - t) < 0.5",
        arg=finding["timestamp"],
        timeout=10_000,
    )
    evidence = page.get_by_label("Evidence")
    await evidence.get_by_text(finding["title"]).wait_for()
    assert await evidence.locator("li.evidence-item").count() == len(finding["evidenceIds"])
    if any(e.startswith("ev-net") for e in finding["evidenceIds"]):
        await evidence.locator("li.network code").first.wait_for()
    if any(e.startswith("ev-ocr") for e in finding["evidenceIds"]):
        await evidence.locator("li.ocr figure.frame img").first.wait_for()


async def test_a_time_in_the_fragment_opens_there(page, local_api: Api, user, analysed):
    await page.goto(f"{local_api.url}/#token={user['token']}")
    await page.goto(f"{local_api.url}/recordings/{analysed}#t=12.5")
    await page.wait_for_function(
        "() => Math.abs((document.querySelector('video')?.currentTime ?? -1e9) - 12.5) < 0.5",
        timeout=15_000,
    )


async def test_delete_asks_first_then_removes_the_recording(page, local_api: Api, user, http):
    auth = {"Authorization": f"Bearer {user['token']}"}
    rid = await uploaded_recording(http, local_api, auth, scenario="login-500")
    await page.goto(f"{local_api.url}/recordings/{rid}#token={user['token']}")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.dismiss()))
    await page.get_by_role("button", name="Delete").click()
    assert (await http.get(f"{local_api.url}{BASE}/{rid}", headers=auth)).status_code == 200
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete").click()
    await page.wait_for_url(f"{local_api.url}/")
    assert (await http.get(f"{local_api.url}{BASE}/{rid}", headers=auth)).status_code == 404


async def test_a_missing_recording_is_said_to_be_missing(page, local_api: Api, user):
    await page.goto(
        f"{local_api.url}/recordings/00000000-0000-0000-0000-000000000000#token={user['token']}"
    )
    await page.get_by_role("alert").filter(has_text="Recording not found").wait_for()


@pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)])
async def test_pages_fit_the_screen(browser, local_api: Api, user, analysed, viewport, watch):
    context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    opened = watch.attach(await context.new_page())
    for path in ("/", f"/recordings/{analysed}"):
        await opened.goto(f"{local_api.url}{path}#token={user['token']}")
        await opened.locator("li.recording, video").first.wait_for()
        overflow = await opened.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, viewport, overflow)
    await context.close()
    assert watch.errors == []


async def test_a_finding_is_reached_and_opened_with_the_keyboard(
    page, local_api: Api, user, analysed
):
    await page.goto(f"{local_api.url}/recordings/{analysed}#token={user['token']}")
    await page.locator("ol.findings button").first.wait_for()
    await page.locator("video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.onloadedmetadata = r)"
    )
    for _ in range(120):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.matches('ol.findings button')"):
            break
    else:
        raise AssertionError("Tab never reached a finding")
    await page.keyboard.press("Enter")
    await page.get_by_label("Evidence").locator("li.evidence-item").first.wait_for()
    time_of = await page.evaluate("document.activeElement.querySelector('.time').textContent")
    assert time_of and await page.evaluate("document.querySelector('video').currentTime") >= 0


async def test_an_unclaimed_recording_opened_with_its_upload_token_is_claimed(
    page, local_api: Api, user, http
):
    created = (await http.post(local_api.url + BASE, json=create_body())).json()  # anonymous
    rid, upload_token = created["recordingId"], created["uploadToken"]
    await page.goto(
        f"{local_api.url}/recordings/{rid}#token={user['token']}&uploadToken={upload_token}"
    )
    assert "uploadToken" not in page.url and "token=" not in page.url
    await page.get_by_role("button", name="Claim").click()
    await page.get_by_text("The recording is yours now.").wait_for()
    assert await page.get_by_role("button", name="Claim").count() == 0
    mine = await http.get(
        f"{local_api.url}{BASE}/{rid}", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert mine.status_code == 200


async def test_the_list_filters_by_status_and_pages(browser, local_api: Api, backends, http, watch):
    subject = f"pages-{secrets.token_hex(4)}"
    auth = {"Authorization": f"Bearer {token(backends.jwt_secret, subject)}"}
    for _ in range(23):
        assert (await http.post(local_api.url + BASE, json=create_body(), headers=auth)).is_success
    context = await browser.new_context()
    page = watch.attach(await context.new_page())
    await page.goto(f"{local_api.url}/#token={auth['Authorization'].split()[1]}")
    await page.get_by_text("23 recordings").wait_for()
    assert await page.locator("li.recording").count() == 20
    await page.get_by_role("button", name="Next page").click()
    await page.wait_for_function("() => document.querySelectorAll('li.recording').length === 3")
    await page.get_by_role("button", name="Previous page").click()
    await page.wait_for_function("() => document.querySelectorAll('li.recording').length === 20")
    await page.get_by_label("Status").select_option("analyzed")
    await page.get_by_text("No analyzed recordings.").wait_for()
    assert "status=analyzed" in page.url
    await context.close()
    assert watch.errors == []


async def test_transcript_sentences_seek_and_follow_playback_and_logs_mark_failures(
    page, local_api: Api, user, analysed
):
    await page.goto(f"{local_api.url}/recordings/{analysed}#token={user['token']}")
    sentences = page.get_by_label("Transcript").locator("li")
    await sentences.first.wait_for()
    await page.locator("video").evaluate(
        "v => new Promise(r => v.readyState >= 1 ? r() : v.onloadedmetadata = r)"
    )
    second = sentences.nth(1)
    await second.get_by_role("button").click()
    await page.wait_for_function(
        "() => document.querySelector('.transcript li[aria-current=true]') !== null"
    )
    current = page.locator(".transcript li[aria-current=true]")
    assert await current.inner_text() == await second.inner_text()
    network = page.get_by_label("Network").locator("tbody tr")
    assert await network.count() > 0
    failed = page.get_by_label("Network").locator("tr.failed")
    assert await failed.count() >= 1 and "500" in await failed.first.inner_text()
    assert " ms" in await network.first.inner_text()  # durations are shown
    assert await page.get_by_label("Console").locator("tr.failed").count() >= 1
