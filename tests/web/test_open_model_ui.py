"""The open model and thresholds in the web UI: the payload, the downloads, and the page.

The payload functions are fed snapshots of a real `StatsCollector` (`record(..., lag_ms=)`,
`record_arrivals`). The served tests run real users against a loopback target: `PacedUser`
is paced (`constant_pacing`) slower than its task takes, so every iteration starts late and
its samples get corrected latencies; the controller has a load model line and a real
`ThresholdWatch` (one threshold that holds, one that cannot). The browser test drives that
server in Debian's headless Chromium and saves screenshots to artifacts/web/.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_support import WAIT_MS, PageProblems, shot
from web_support import DEADLINE, Client, UiServer, ui_server

from loadhopper import HttpUser, constant_pacing, task
from loadhopper.report import RunInfo, write_html_report
from loadhopper.runtime import Environment, Events
from loadhopper.runtime._threshold_watch import ThresholdWatch
from loadhopper.stats import StatsCollector, StatsSnapshot, ThresholdResult, parse_threshold
from loadhopper.web import WebController, WebServer, create_app
from loadhopper.web._payload import POINT_FIELDS, arrivals_dict, point_row, stats_dict

T0 = 1_700_000_000.0
LOAD_MODEL = "constant pacing 0.05 s per user"
# One that holds on any loopback run, one that cannot (no request takes under 0 ms).
THRESHOLDS = ("p95<10000", "max<0")


# ---- the payload, from a collector ------------------------------------------------------


def _open_snapshot(seconds: int = 15) -> tuple[StatsCollector, StatsSnapshot]:
    """`seconds` windows of /slow (iterations 0..900 ms late) and /plain (no schedule); each
    second 10 iterations are due, and in the last 3 seconds 2 start late and 1 is dropped."""
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        for i in range(10):
            c.record("GET", "/slow", 10.0, 5, None, lag_ms=100.0 * i)
        c.record("GET", "/plain", 3.0, 5, None)
        behind = k >= seconds - 3
        c.record_arrivals(due=10, late=2 if behind else 0, dropped=1 if behind else 0)
        c.close_window(T0 + k + 1, user_count=3)
    return c, c.snapshot(T0 + seconds)


def test_rows_carry_their_corrected_latencies_beside_the_measured_ones() -> None:
    collector, snapshot = _open_snapshot()
    stats = stats_dict(snapshot)
    rows = {row["name"]: row for row in stats["rows"]}
    slow, plain = rows["/slow"], rows["/plain"]
    assert slow["p95"] == 10.0
    assert slow["corrected_p95"] == collector.percentile("GET", "/slow", 0.95, corrected=True)
    assert slow["corrected_p99"] == collector.percentile("GET", "/slow", 0.99, corrected=True)
    assert slow["corrected_median"] == collector.percentile("GET", "/slow", 0.5, corrected=True)
    assert slow["corrected_count"] == 150 and slow["corrected_avg"] == pytest.approx(460.0)
    assert slow["corrected_max"] == pytest.approx(910.0, rel=1e-3)
    assert len(slow["corrected_percentiles"]) == len(stats["percentiles"])
    # A row without a schedule says so with a zero count and nulls, not made-up numbers.
    assert plain["corrected_count"] == 0 and plain["corrected_p95"] is None
    assert plain["corrected_percentiles"] == []
    assert stats["total"]["corrected_count"] == 150


def test_arrivals_over_the_run_and_in_the_banner_window() -> None:
    _, snapshot = _open_snapshot()
    assert arrivals_dict(snapshot) == {
        "active": True,
        "due": 150,
        "late": 6,
        "dropped": 3,
        "late_ratio": pytest.approx(0.04),
        "dropped_ratio": pytest.approx(0.02),
        "recent_seconds": 10.0,
        "recent_due": 100,  # the windows that ended in the last 10 s (seconds 6..15)
        "recent_late": 6,
        "recent_dropped": 3,
    }
    closed = StatsCollector(start_time=T0)
    closed.record("GET", "/", 1.0, 1, None)
    closed.close_window(T0 + 1, user_count=1)
    quiet = arrivals_dict(closed.snapshot(T0 + 1))
    assert quiet["active"] is False and quiet["recent_late"] == quiet["recent_dropped"] == 0


def test_chart_points_carry_late_dropped_and_corrected_percentiles() -> None:
    _, snapshot = _open_snapshot()
    last = dict(zip(POINT_FIELDS, point_row(snapshot.timeline[-1]), strict=True))
    assert (last["due"], last["late"], last["dropped"]) == (10, 2, 1)
    assert last["p95"] == 10.0 and last["corrected_p99"] == pytest.approx(910.0, rel=1e-3)
    first = dict(zip(POINT_FIELDS, point_row(snapshot.timeline[0]), strict=True))
    assert (first["late"], first["dropped"]) == (0, 0)


# ---- a served UI with a schedule and thresholds -----------------------------------------


class PacedUser(HttpUser):
    """Each iteration takes about 80 ms but is paced at 50 ms: every one starts late, so its
    latency from the intended start is above the one measured from the send."""

    wait_time = constant_pacing(0.05)

    @task
    def paced(self) -> None:
        self.client.get("/")
        time.sleep(0.08)  # the run's yielding sleep: this user waits, the loop does not


class PacedUiServer(UiServer):
    """`UiServer` with PacedUser, a load model line and a ThresholdWatch on the runner."""

    def start(self) -> None:
        env = Environment(user_classes=[PacedUser], events=Events(), host=self.host)
        self.controller = WebController(env, locustfile="paced.py", load_model=LOAD_MODEL)
        watch = ThresholdWatch([parse_threshold(text) for text in THRESHOLDS])
        self.controller.threshold_source = lambda: watch.results
        watch.attach(self.controller.runner)
        app = create_app(self.controller, csrf_token=self.csrf_token)
        self._server = WebServer(app, "127.0.0.1", 0)
        self.port = self._server.bind()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(DEADLINE)


@contextmanager
def paced_ui_server() -> Iterator[PacedUiServer]:
    server = PacedUiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _start(client: Client, target: Any) -> None:
    form = {"users": 2, "spawn_rate": 100, "host": target.url}
    reply = client.post("/api/start", form)
    assert reply.status == 200, reply.text


def _judged(state: dict[str, Any]) -> bool:
    return len(state["thresholds"]) == 2 and state["stats"]["total"]["corrected_count"] > 0


def test_the_payload_has_the_load_model_live_thresholds_and_corrected_rows(target: Any) -> None:
    with paced_ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        before = client.state()
        assert before["status"]["load_model"] == LOAD_MODEL and before["thresholds"] == []
        _start(client, target)
        state = client.wait_for(_judged, "thresholds judged on corrected samples")
        holds, cannot = state["thresholds"]
        assert (holds["expression"], holds["passed"], holds["row"]) == (
            "p95<10000",
            True,
            "Aggregated",
        )
        assert cannot["expression"] == "max<0" and cannot["passed"] is False
        assert cannot["first_breach"] is not None and cannot["value_text"].endswith(" ms")
        (row,) = state["stats"]["rows"]
        # Every iteration starts about 30 ms late, so the corrected median is above the
        # measured one (loopback answers in well under 30 ms).
        assert row["corrected_median"] > row["median"]
        assert state["stats"]["arrivals"]["active"] is False  # pacing is not an open model
        assert client.post("/api/stop").status == 200
        done = client.wait_for(lambda s: not s["status"]["running"], "the stop")
        assert [t["passed"] for t in done["thresholds"]] == [True, False]
        # The HTML download carries the same: the load model, the verdicts, corrected rows.
        page = client.get("/download/report.html").text
        assert f"Load model: {LOAD_MODEL}" in page
        assert "FAIL: 1 of 2 thresholds failed." in page
        assert '<section id="corrected">' in page and '<section id="arrivals">' not in page


def test_a_closed_model_ui_has_no_load_model_and_no_thresholds(target: Any) -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        state = client.state()
        assert state["status"]["load_model"] == "" and state["thresholds"] == []
        assert state["stats"]["arrivals"]["active"] is False


# ---- the page, in a real browser -------------------------------------------------------


def _texts(page: Any, selector: str) -> list[str]:
    texts: list[str] = page.locator(selector).all_text_contents()
    return texts


@pytest.mark.browser
def test_the_page_shows_corrected_columns_thresholds_and_the_load_model(
    browser: Any, target: Any
) -> None:
    with paced_ui_server() as ui:
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.is_hidden("#tab-button-thresholds") and page.is_hidden("#m-late-box")
        assert page.inner_text("#load-model") == f"load model: {LOAD_MODEL}"
        page.fill("#f-users", "2")
        page.fill("#f-rate", "100")
        page.fill("#f-host", target.url)
        page.click("#btn-start")
        page.wait_for_function("() => document.getElementById('m-state').textContent === 'RUNNING'")
        # Corrected columns appear beside the measured ones once corrected samples exist.
        page.wait_for_selector("#stats-table thead th[data-key=corrected_p95]")
        headers = _texts(page, "#stats-table thead th")
        at = headers.index("99%ile (ms)")
        assert headers[at + 1 : at + 4] == [
            "Corrected median (ms)",
            "Corrected 95%ile (ms)",
            "Corrected 99%ile (ms)",
        ]
        assert page.is_visible("#corrected-note")
        # The thresholds: a header metric and a tab, with the failing one marked.
        page.wait_for_function(
            "() => document.querySelectorAll('#thresholds-table tbody tr').length === 2"
        )
        assert page.inner_text("#m-thresholds") == "FAIL 1/2"
        page.click("button[data-tab=thresholds]")
        rows = page.locator("#thresholds-table tbody tr")
        assert rows.nth(0).get_attribute("class") == "pass"
        assert rows.nth(1).get_attribute("class") == "fail"
        assert _texts(page, "#thresholds-table tbody td.verdict") == ["PASS", "FAIL"]
        assert page.inner_text("#thresholds-verdict").startswith("FAIL: 1 of 2 thresholds")
        shot(page, "open-model-01-thresholds")
        # The charts: dashed corrected lines on the latency chart; no arrivals chart
        # (pacing is not an open model).
        page.click("button[data-tab=charts]")
        page.wait_for_function(
            "() => { const el = document.getElementById('chart-latency');"
            " return el.data && el.data.some((t) => t.name === 'p99 corrected'); }"
        )
        dashes = page.evaluate(
            "() => document.getElementById('chart-latency').data.map((t) => t.line.dash)"
        )
        assert dashes == ["solid", "solid", "solid", "dash", "dash"]
        assert page.is_hidden("#chart-arrivals")
        page.click("button[data-tab=stats]")
        shot(page, "open-model-02-corrected-columns")
        page.click("#btn-stop")
        page.wait_for_function("() => document.getElementById('m-state').textContent === 'STOPPED'")
        assert problems.items == []
        context.close()


@pytest.mark.browser
def test_the_page_shows_arrivals_and_the_banner_when_the_rate_cannot_be_kept(
    browser: Any,
) -> None:
    # Arrival counts as a run would record them (engineer M's --arrival-rate records them
    # through the same collector calls): fed into the UI's own environment's collector.
    with ui_server() as ui:
        assert ui.controller is not None
        stats = ui.controller.environment.stats

        def feed() -> None:
            now = time.time()
            for k in range(3):
                stats.record("GET", "/", 5.0, 1, None, lag_ms=40.0)
                stats.record_arrivals(due=20, late=3, dropped=2)
                stats.close_window(now - 3 + k, user_count=2)

        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        ui.call(feed)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("#arrival-banner:not([hidden])")
        banner = page.inner_text("#arrival-banner")
        assert "cannot keep the arrival rate" in banner
        assert "9 of 60 iterations started late and 6 were dropped" in banner
        assert page.inner_text("#m-late") == "9" and page.inner_text("#m-dropped") == "6"
        shot(page, "open-model-03-arrival-banner")
        assert problems.items == []
        context.close()


@pytest.mark.browser
def test_the_html_report_draws_arrivals_and_corrected_lines_offline(
    browser: Any, tmp_path: Path
) -> None:
    _, snapshot = _open_snapshot()
    run = RunInfo(
        start_time=T0,
        end_time=T0 + 15,
        users=3,
        spawn_rate=1.0,
        run_time=15.0,
        host="http://127.0.0.1:8000",
        locustfile="locustfile.py",
        version="0.1.0",
        load_model="arrival rate 10/s, up to 3 users",
        thresholds=(
            ThresholdResult("p95<200", "Aggregated", "p95", "<", 200.0, 10.0, True, unit="ms"),
            ThresholdResult("dropped<1", "", "dropped", "<", 1.0, 3.0, False, first_breach=T0),
        ),
    )
    report = tmp_path / "report.html"
    write_html_report(report, snapshot, run, locustfile_source=None)
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page)
    page.goto(report.as_uri())
    page.wait_for_function(
        "() => ['lh-chart-latency', 'lh-chart-arrivals'].every((id) =>"
        " document.getElementById(id).data)"
    )
    names = page.evaluate(
        "() => ['lh-chart-latency', 'lh-chart-arrivals'].map((id) =>"
        " document.getElementById(id).data.map((t) => t.name + ':' + (t.type === 'bar' ?"
        " 'bar' : (t.line.dash || 'solid'))))"
    )
    assert names == [
        ["p50:solid", "p95:solid", "p99:solid", "p95 corrected:dash", "p99 corrected:dash"],
        ["due/s:solid", "late/s:bar", "dropped/s:bar"],
    ]
    assert page.inner_text("header p.verdict").startswith("Thresholds: FAIL: 1 of 2")
    shot(page, "open-model-04-html-report")
    assert problems.items == []
    context.close()
