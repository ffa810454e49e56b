"""The response-time distribution (percentile spectrum) in the HTML report.

Real statistics from a real collector: the spectrum's points are the histogram's own exact
percentiles, and the report draws them in Debian's headless Chromium (screenshot in
artifacts/report_distribution.png).
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

from loadhopper.report._html import render_html_report, write_html_report
from loadhopper.report._run_info import RunInfo
from loadhopper.report._spectrum import (
    latency_spectrum,
    report_spectra,
    spectrum_dict,
    spectrum_quantiles,
)
from loadhopper.stats import StatsCollector

START = 1_700_000_000.0
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _collector() -> StatsCollector:
    """1000 GETs of / at 1..1000 ms, 100 GETs of /slow at 2000 ms, 5 failures of /slow."""
    stats = StatsCollector(START)
    for ms in range(1, 1001):
        stats.record("GET", "/", float(ms), 10, None)
    for _ in range(100):
        stats.record("GET", "/slow", 2000.0, 10, None)
    for _ in range(5):
        stats.record("GET", "/slow", 5.0, 0, RuntimeError("boom"))
    stats.close_window(START + 1.0, user_count=3)
    return stats


def _run() -> RunInfo:
    return RunInfo(
        start_time=START,
        end_time=START + 2.0,
        users=3,
        spawn_rate=1.0,
        run_time=None,
        host="http://127.0.0.1:8089",
        locustfile="locustfile.py",
        version="0.1.0",
    )


def test_the_quantile_ladder_stops_where_the_samples_do() -> None:
    assert spectrum_quantiles(0) == ()
    assert spectrum_quantiles(1) == (0.0, 1.0)
    assert spectrum_quantiles(10) == (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
    ladder = spectrum_quantiles(1000)
    assert ladder[-5:] == (0.99, 0.995, 0.9975, 0.999, 1.0)
    assert 0.9995 not in ladder  # 2000 samples would be needed to tell it from the max


def test_the_points_are_the_histograms_exact_percentiles() -> None:
    stats = _collector()
    spectrum = latency_spectrum(stats, "GET", "/")
    assert spectrum is not None and spectrum.count == 1000
    assert spectrum.points[0] == (0.0, 1.0)  # the exact minimum
    assert spectrum.points[-1] == (1.0, 1000.0)  # the exact maximum
    for q, ms in spectrum.points:
        assert ms == stats.percentile("GET", "/", q)
    # The failures are not latencies: /slow counts only its 100 successes.
    slow = latency_spectrum(stats, "GET", "/slow")
    assert slow is not None and slow.count == 100 and {ms for _, ms in slow.points} == {2000.0}
    assert latency_spectrum(stats, "GET", "/missing") is None


def test_the_report_carries_the_aggregated_row_first_then_the_busiest_rows() -> None:
    stats = _collector()
    spectra = report_spectra(stats)
    assert [s.label for s in spectra] == ["Aggregated", "GET /", "GET /slow"]
    assert spectra[0].count == 1100
    assert [s.label for s in report_spectra(stats, limit=1)] == ["Aggregated", "GET /"]
    page = render_html_report(
        stats.snapshot(START + 2.0), _run(), locustfile_source=None, spectra=spectra
    )
    assert '<a href="#distribution">Distribution</a>' in page
    match = re.search(r'id="lh-chart-distribution" data-spectra="([^"]*)"', page)
    assert match is not None
    assert json.loads(html.unescape(match.group(1))) == [spectrum_dict(s) for s in spectra]
    assert '<option value="2">GET /slow</option>' in page


def test_a_hostile_row_name_stays_text() -> None:
    stats = StatsCollector(START)
    name = '"><script>alert(1)</script>'
    stats.record("GET", name, 5.0, 1, None)
    page = render_html_report(
        stats.snapshot(START + 1.0), _run(), locustfile_source=None, spectra=report_spectra(stats)
    )
    assert name not in page
    assert page.count("<script") == 3  # plotly.js, the timeline data, the chart code


def test_without_spectra_the_report_has_no_distribution_section() -> None:
    page = render_html_report(_collector().snapshot(START + 2.0), _run(), locustfile_source=None)
    assert 'id="distribution"' not in page and "#distribution" not in page


def test_the_browser_draws_the_spectrum_on_a_log_axis(tmp_path: Path) -> None:
    assert shutil.which(CHROMIUM), "the browser tests need /usr/bin/chromium (./dev test)"
    from playwright import sync_api

    stats = _collector()
    report = tmp_path / "report.html"
    write_html_report(
        report,
        stats.snapshot(START + 2.0),
        _run(),
        locustfile_source=None,
        spectra=report_spectra(stats),
    )
    errors: list[str] = []
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.as_uri())
            page.wait_for_selector("#lh-chart-distribution .main-svg", timeout=30_000)
            drawn: Any = page.evaluate(
                "() => { const el = document.getElementById('lh-chart-distribution');"
                " return {axis: el.layout.xaxis.type, traces: el.data.map((t) => t.name),"
                " x: el.data[0].x, y: el.data[0].y}; }"
            )
            assert drawn["axis"] == "log" and drawn["traces"] == ["Aggregated"]
            expected = latency_spectrum(stats, "", "Aggregated")
            assert expected is not None
            assert drawn["x"][0] == 1 and drawn["x"][-1] == 1100  # min at q=0, max at count
            assert drawn["y"][-1] == 2000 and len(drawn["y"]) == len(expected.points)
            page.select_option("#lh-distribution-row", label="GET /slow")
            page.wait_for_function(
                "() => document.getElementById('lh-chart-distribution').data.length === 2"
            )
            assert page.locator("#lh-chart-distribution .scatterlayer .trace").count() == 2
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator("#distribution").screenshot(
                path=str(ARTIFACTS / "report_distribution.png")
            )
        finally:
            browser.close()
    assert errors == []
