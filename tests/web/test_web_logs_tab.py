"""The Logs tab in the real headless Chromium: a line the locustfile logs appears, as text.

The locustfile logs when its test starts, with markup in the message: the tab must show the
characters, never make an element of them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import cli_ui, open_page

from loadhopper.web._logs import LogBuffer

LOCUSTFILE = """
import logging

from locust import HttpUser, task, constant, events

logger = logging.getLogger("cats.locustfile")


@events.test_start.add_listener
def announce(environment, **kwargs):
    logger.info("the cats are ready <b id='injected'>not bold</b>")


class Visitor(HttpUser):
    wait_time = constant(0.2)

    @task
    def visit(self):
        self.client.get("/")
"""
LINE = "the cats are ready <b id='injected'>not bold</b>"


@pytest.mark.browser
def test_the_logs_tab_shows_the_locustfiles_lines(
    browser: Any, target: Any, tmp_path: Path
) -> None:
    with cli_ui(tmp_path, LOCUSTFILE, "-H", target.url) as (url, _port):
        _, page, problems = open_page(browser, url)
        assert page.is_visible("#tab-button-logs")
        page.fill("#f-users", "1")
        page.fill("#f-rate", "10")
        page.click("#btn-start")
        page.click("button[data-tab=logs]")
        page.wait_for_function(
            "(line) => Array.from(document.querySelectorAll('#logs-list li'))"
            ".some((li) => li.textContent.endsWith('cats.locustfile: ' + line))",
            arg=LINE,
        )
        assert page.locator("#injected").count() == 0
        texts = page.locator("#logs-list li").all_text_contents()
        assert sum(1 for text in texts if LINE in text) == 1  # polled again: not repeated
        shot(page, "uia-03-logs-tab")
        assert problems.items == []
        page.close()


def test_the_buffer_keeps_the_newest_lines_and_numbers_them() -> None:
    buffer = LogBuffer(capacity=3)
    logger = logging.getLogger("uia.buffer")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(buffer)
    try:
        for i in range(5):
            logger.info("line %d", i)
        logger.info("bad %d format")  # a mistake in someone's log call is not raised here
    finally:
        logger.removeHandler(buffer)
    lines, following = buffer.lines_after(0)
    assert [line["message"] for line in lines] == ["line 3", "line 4", "bad %d format"]
    assert following == 6
    assert [line["message"] for line in buffer.lines_after(5)[0]] == ["bad %d format"]
    assert buffer.lines_after(6) == ([], 6)
