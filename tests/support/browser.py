"""Debian's chromium, headless, driven by Playwright's Python API (its own browser download
cannot work here: executable_path points at the system package). One per test run: the
session fixture `browser` in conftest.py."""

from __future__ import annotations

from contextlib import contextmanager

from tests.support.peers import require_executable

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def launch():
    path = require_executable("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page that remembers what a person's browser console would show, and every URL it asked for."""

    def __init__(self, browser, width: int = 1440, height: int = 900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.requested: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("request", lambda req: self.requested.append(req.url))

    def close(self) -> None:
        self.page.close()
