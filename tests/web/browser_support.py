"""The real browser of the UI tests: Debian's Chromium driven by Playwright, never a download."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright import sync_api

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
WAIT_MS = 20_000


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium; `./dev test` installs it, so a missing one fails, never skips."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class PageProblems:
    """Everything that went wrong on a page: script errors, console errors, failed loads."""

    def __init__(self, page: Any) -> None:
        self.items: list[str] = []
        page.on("pageerror", lambda error: self.items.append(f"page error: {error}"))
        page.on(
            "console",
            lambda msg: self.items.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.on("requestfailed", lambda req: self.items.append(f"failed: {req.url}"))
        page.on(
            "response",
            lambda resp: (
                self.items.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None
            ),
        )


def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as artifacts/web/NAME.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
