"""Screenshots of the dashboard for the README, from a real run.

Against a running service (``make run``), as the user of TOKEN: uploads a fixture recording,
analyses it, then photographs the list and the recording page (with a finding opened) in the
machine's Chromium::

    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8000 \\
        --token "$(.venv/bin/recordings token alice)"

Writes docs/dashboard-list.png and docs/dashboard-recording.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx

DOCS = Path(__file__).parent
DATA = DOCS.parent / "tests" / "data"
BASE = "/api/feedback/recordings"


async def analysed_recording(url: str, auth: dict[str, str], scenario: str) -> str:
    async with httpx.AsyncClient(timeout=120) as http:
        body = json.loads((DATA / scenario / "create.json").read_text())
        created = (await http.post(url + BASE, json=body, headers=auth)).json()
        rid = created["recordingId"]
        video = (DATA / scenario / "recording.webm").read_bytes()
        put = await http.put(
            f"{url}{BASE}/{rid}/video",
            content=video,
            headers={**auth, "Content-Type": "video/webm"},
        )
        put.raise_for_status()
        (await http.post(f"{url}{BASE}/{rid}/analyze", headers=auth)).raise_for_status()
        deadline = time.monotonic() + 600
        while (await http.get(f"{url}{BASE}/{rid}", headers=auth)).json()["status"] != "analyzed":
            if time.monotonic() > deadline:
                raise SystemExit("the analysis did not finish in 10 minutes")
            await asyncio.sleep(1)
        return rid  # type: ignore[no-any-return]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    auth = {"Authorization": f"Bearer {args.token}"}
    first = await analysed_recording(args.url, auth, "login-500")
    await analysed_recording(args.url, auth, "upgrade-checkout")

    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=args.chromium, headless=True, args=["--no-sandbox"]
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await page.goto(f"{args.url}/#token={args.token}")
        await page.locator("li.recording").first.wait_for()
        await page.screenshot(path=str(DOCS / "dashboard-list.png"))
        await page.goto(f"{args.url}/recordings/{first}")
        await page.locator("ol.findings button").first.click()
        await page.locator("li.evidence-item").first.wait_for()
        await page.screenshot(path=str(DOCS / "dashboard-recording.png"))
        await browser.close()
    print("wrote docs/dashboard-list.png and docs/dashboard-recording.png")


if __name__ == "__main__":
    asyncio.run(main())
