"""The generator's CPU and loop lag on the page, in Debian's headless Chromium.

The UI's own collector is fed windows as a run records them (`record_health` before
`close_window`), and each closed window goes to the runner's window listeners as the runner
hands it on, so the header, the banner and the charts' shading are the page's own work.
Screenshots go to artifacts/web/.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from browser_support import WAIT_MS, PageProblems, shot
from web_support import UiServer, ui_server

BUSY_BANDS = (
    "() => { const el = document.getElementById('chart-latency');"
    " return el.layout ? el.layout.shapes.filter((s) => s.name === 'busy').length : -1; }"
)


def _feed(ui: UiServer, hot: list[bool], end: float, *, fresh: bool = True) -> None:
    """One-second windows, one per entry, the last ending at `end`: hot ones at 97 % CPU
    and 25 ms late. `fresh` restarts the statistics one second before the first."""
    assert ui.controller is not None
    controller = ui.controller

    def feed() -> None:
        stats = controller.environment.stats
        if fresh:
            stats.reset(end - len(hot))
        for k, busy in enumerate(hot):
            stats.record("GET", "/", 30.0 if busy else 5.0, 10, None)
            stats.record_health(*((97.0, 25.0, 6.0) if busy else (20.0, 1.0, 0.4)))
            delta = stats.close_window(end - len(hot) + 1 + k, user_count=50)
            point = stats.window_point(delta.window_index)  # as the runner hands it on
            for listener in list(controller.runner.window_listeners):
                listener(point)

    ui.call(feed)


@pytest.mark.browser
def test_the_page_shows_the_generators_cpu_lag_banner_and_shaded_seconds(browser: Any) -> None:
    with ui_server() as ui:
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        # Nothing measured yet: no numbers, no banner.
        assert page.is_hidden("#m-cpu-box") and page.is_hidden("#busy-banner")
        now = time.time()
        _feed(ui, [False, False, False, True, True, True], now - 1)
        page.wait_for_selector("#busy-banner:not([hidden])")
        banner = page.inner_text("#busy-banner")
        assert banner == (
            "The generator used 97 % of a core and its event loop ran up to 25 ms late in the "
            "last 10 s: latencies measured now include its own queueing (shaded on the "
            "charts); add --processes or reduce users."
        )
        assert page.inner_text("#m-cpu") == "97 %" and page.inner_text("#m-lag") == "25.0 ms"
        assert page.get_attribute("#m-cpu", "class") == "hot"
        assert page.get_attribute("#m-lag", "class") == "hot"
        assert page.is_hidden("#stall-banner")
        shot(page, "health-01-busy-banner")
        # The charts shade the three hot seconds, and one more when it streams in.
        page.click("button[data-tab=charts]")
        page.wait_for_function(f"() => ({BUSY_BANDS})() === 3")
        _feed(ui, [True], now, fresh=False)
        page.wait_for_function(f"() => ({BUSY_BANDS})() === 4")
        shot(page, "health-02-shaded-charts")
        assert problems.items == []
        context.close()


@pytest.mark.browser
def test_a_generator_within_its_bounds_shows_numbers_but_no_banner(browser: Any) -> None:
    with ui_server() as ui:
        _feed(ui, [False, False], time.time() - 1)
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("#m-cpu-box:not([hidden])")
        assert page.inner_text("#m-cpu") == "20 %" and page.inner_text("#m-lag") == "1.00 ms"
        assert page.get_attribute("#m-cpu", "class") == ""
        assert page.is_hidden("#busy-banner")
        page.click("button[data-tab=charts]")
        page.wait_for_function(f"() => ({BUSY_BANDS})() === 0")
        assert problems.items == []
        context.close()
