"""A real Chromium for the dashboard's tests, driven by Playwright.

Playwright's own browser download is not used: the tests drive the machine's Chromium
(Debian's ``chromium`` package, or ``RECORDINGS_TEST_CHROMIUM``). Without one they skip, saying
how to get it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    given = os.environ.get("RECORDINGS_TEST_CHROMIUM")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


async def launch() -> AsyncIterator[Any]:
    path = chromium_path()
    if path is None and os.environ.get("RECORDINGS_TEST_REQUIRE_CHROMIUM"):
        pytest.fail("no Chromium, and RECORDINGS_TEST_REQUIRE_CHROMIUM is set (as CI sets it)")
    if path is None:
        pytest.skip(
            "no Chromium: install Debian's chromium package (apt-get install chromium) "
            "or set RECORDINGS_TEST_CHROMIUM to a Chromium binary"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


class ConsoleWatch:
    """Every error a page logs to its console or throws, for the test to check there are none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> Any:
        page.on(
            "console",
            lambda message: (
                message.type == "error" and self.errors.append(f"{page.url}: {message.text}")
            ),
        )
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        return page
