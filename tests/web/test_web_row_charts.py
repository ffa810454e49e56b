"""A chart per stats row, on demand, in Debian's headless Chromium on a real web-mode run.

Clicking a row opens its requests-per-second and percentile charts; from then on the row is
recorded each second (`web/_history.py`), at most `MAX_WATCHED_ROWS` rows at once, each
bounded. Screenshot: artifacts/web/row-charts-01-open.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import TIMEOUT, cli_ui, open_page
from web_support import Client

from loadhopper.runtime import Environment, Events
from loadhopper.stats import StatsCollector, TimelinePoint
from loadhopper.web._history import RowHistory

LOCUSTFILE = """
from locust import HttpUser, constant, task


class Visitor(HttpUser):
    wait_time = constant(0.1)

    @task(3)
    def home(self):
        self.client.get("/", name="home")

    @task(1)
    def broken(self):
        self.client.get("/fail", name="broken")
"""

ROW_POINTS = "() => Number(document.getElementById('row-charts').dataset.points || 0)"


def _window(env: Environment, at: float) -> TimelinePoint:
    """Record two requests and close one window, as a run does each second."""
    stats = env.stats
    stats.record("GET", "/a", 10.0, 1, None)
    stats.record("GET", "/b", 20.0, 1, None)
    delta = stats.close_window(at, user_count=1)
    return stats.window_point(delta.window_index)  # as the runner hands it on


def test_only_watched_rows_are_recorded_and_the_history_is_bounded() -> None:
    env = Environment(user_classes=[], events=Events())
    start = env.stats.start_time
    history = RowHistory(env, max_rows=2, max_points=3)
    windows = [start + k for k in range(1, 6)]

    def feed(at: float) -> None:
        point = _window(env, at)
        history.on_window(env.stats.snapshot(at), point)

    feed(windows[0])  # nobody asked yet: nothing kept
    assert history.points("GET", "/a") == ()  # now /a is watched
    for at in windows[1:]:
        feed(at)
    points = history.points("GET", "/a")
    assert len(points) == 3  # the newest three of four windows
    assert [p[3] for p in points] == [10.0, 10.0, 10.0]  # the median, exact
    history.points("GET", "/b")
    history.points("", "Aggregated")  # a third row: /a, asked longest ago, is forgotten
    assert history.watched == (("GET", "/b"), ("", "Aggregated"))
    assert history.points("GET", "/a") == ()
    history.clear()
    assert all(history.points(*key) == () for key in history.watched)


def test_the_collector_alone_has_no_per_row_history() -> None:
    # Why the web layer keeps its own: the timeline is the Aggregated row's only.
    stats = StatsCollector(0.0)
    stats.record("GET", "/a", 10.0, 1, None)
    stats.close_window(1.0, user_count=1)
    assert not hasattr(stats.snapshot(1.0).timeline[0], "name")


@pytest.mark.browser
def test_clicking_a_row_opens_its_charts(tmp_path: Path, browser: Any, target: Any) -> None:
    args = ("--autostart", "-u", "2", "-r", "10", "-H", target.url)
    with cli_ui(tmp_path, LOCUSTFILE, *args) as (url, port):
        context, page, problems = open_page(browser, url)
        page.wait_for_selector("#stats-table tbody td.name:text-is('broken')")
        assert page.is_hidden("#row-charts")
        page.click("#stats-table tbody td.name:text-is('broken')")
        page.wait_for_selector("#row-charts:not([hidden])")
        assert page.inner_text("#row-charts-title") == "GET broken"
        page.wait_for_function(f"() => ({ROW_POINTS})() >= 3", timeout=TIMEOUT * 1000)
        drawn = page.evaluate(
            "() => ['row-chart-rps', 'row-chart-latency'].map((id) =>"
            " document.getElementById(id).data.map((t) => [t.name, t.y.length]))"
        )
        points = page.evaluate(ROW_POINTS)
        assert [name for name, _ in drawn[0]] == ["RPS", "Failures/s"]
        assert [name for name, _ in drawn[1]] == ["p50", "p95", "p99"]
        assert all(n >= 3 for chart in drawn for _, n in chart)
        shot(page, "row-charts-01-open")
        # What the chart drew is the row's own history: every request of /fail fails.
        history = Client(port).get("/api/row-history?method=GET&name=broken").json()
        assert len(history["points"]) >= points
        fail_rate = [p[history["fields"].index("fail_per_sec")] for p in history["points"]]
        rps = [p[history["fields"].index("rps")] for p in history["points"]]
        assert fail_rate[-1] > 0 and fail_rate[-1] == pytest.approx(rps[-1])
        # The Aggregated row (the footer) opens its own chart.
        page.click("#stats-table tfoot tr")
        page.wait_for_function("() => document.getElementById('row-charts-title')"
                               ".textContent === 'Aggregated'")  # fmt: skip
        page.click("#row-charts-close")
        assert page.is_hidden("#row-charts")
        assert problems.items == []
        context.close()
