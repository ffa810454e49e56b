"""The UI in a real headless Chromium (Debian's, driven by Playwright; never downloaded).

One walk through what a user does: open the page, start a test against a loopback target,
watch the table and the charts fill, sort, edit the user count, stop, download the HTML
report, and open that report with the network cut off. Screenshots go to artifacts/web/.
Waits are for conditions on the page, never fixed sleeps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import ARTIFACTS, WAIT_MS, PageProblems, shot
from web_support import ui_server

pytestmark = pytest.mark.browser


def _trace_points(page: Any, chart: str) -> int:
    points: int = page.evaluate(
        "(id) => { const el = document.getElementById(id);"
        " return el && el.data ? el.data[0].x.length : 0; }",
        chart,
    )
    return points


def _drawn_lines(page: Any, selector: str) -> int:
    lines: int = page.evaluate(
        "(sel) => Array.from(document.querySelectorAll(sel + ' .scatterlayer path.js-line'))"
        ".filter((p) => (p.getAttribute('d') || '').length > 10).length",
        selector,
    )
    return lines


def test_a_user_runs_a_test_in_the_browser(browser: Any, target: Any, tmp_path: Path) -> None:
    with ui_server() as ui:
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1400, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.is_visible("#start-panel")
        assert page.locator("#f-classes input").count() == 3
        shot(page, "01-start-form")

        page.fill("#f-users", "3")
        page.fill("#f-rate", "100")
        page.fill("#f-host", target.url)
        page.click("#btn-start")
        page.wait_for_function("() => document.getElementById('m-state').textContent === 'RUNNING'")
        assert page.is_hidden("#start-panel")
        # The table fills: rows for both names, and the Aggregated row counts requests.
        page.wait_for_function(
            "() => document.querySelectorAll('#stats-table tbody tr').length === 2 &&"
            " Number(document.querySelector('#stats-table tfoot td:nth-child(3)')"
            ".textContent.replace(/,/g, '')) > 0"
        )
        names = page.locator("#stats-table tbody td.name").all_text_contents()
        assert sorted(names) == ["/", "/fail"]
        headers = page.locator("#stats-table thead th").all_text_contents()
        assert headers[:4] == ["Type", "Name", "# Requests", "# Fails"]
        assert "Current RPS" in headers and "99%ile (ms)" in headers
        page.click("#stats-table thead th[data-key=name]")
        page.click("#stats-table thead th[data-key=name]")  # descending
        assert page.locator("#stats-table tbody td.name").all_text_contents() == ["/fail", "/"]
        page.check("#all-percentiles")
        assert "99.99%" in page.locator("#stats-table thead th").all_text_contents()
        # Charts: wait for two pushed windows, then check they are drawn.
        page.click("button[data-tab=charts]")
        page.wait_for_function(
            "() => document.getElementById('chart-rps').data &&"
            " document.getElementById('chart-rps').data[0].x.length >= 2"
        )
        for chart in ("chart-rps", "chart-latency", "chart-users"):
            assert _trace_points(page, chart) >= 2
            assert _drawn_lines(page, f"#{chart}") >= 1
        shot(page, "02-running-charts")
        page.click("button[data-tab=failures]")
        page.wait_for_selector("#failures-table tbody tr")
        assert "HTTPError" in page.inner_text("#failures-table tbody")
        page.click("button[data-tab=exceptions]")
        page.wait_for_selector("#exceptions-table tbody pre")
        assert "ValueError: the locustfile has a bug" in page.inner_text("#exceptions-table")
        page.click("button[data-tab=stats]")
        shot(page, "03-running-stats")

        page.click("#btn-edit")
        page.fill("#e-users", "5")
        page.click("#btn-edit-apply")
        page.wait_for_function("() => document.getElementById('m-users').textContent === '5'")
        shot(page, "04-edited")

        page.click("#btn-stop")
        page.wait_for_function("() => document.getElementById('m-state').textContent === 'STOPPED'")
        assert page.is_visible("#btn-new") and page.is_hidden("#btn-stop")
        shot(page, "05-stopped")

        page.click("button[data-tab=downloads]")
        with page.expect_download() as info:
            page.click("#downloads a[href='download/report.html']")
        report = ARTIFACTS / "report.html"
        info.value.save_as(str(report))

        page.click("#btn-new")
        assert page.is_visible("#start-panel")
        assert page.input_value("#f-host") == target.url  # what was typed is kept
        assert problems.items == []
        context.close()

    _open_report_offline(browser, report)


def _open_report_offline(browser: Any, report: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    outside: list[str] = []

    def only_files(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page)
    page.goto(report.as_uri())
    page.wait_for_selector("#lh-chart-rps .main-svg")
    for chart in ("lh-chart-rps", "lh-chart-latency", "lh-chart-users"):
        assert _drawn_lines(page, f"#{chart}") >= 1, chart
    assert "/fail" in page.inner_text("body")
    shot(page, "06-report-offline")
    assert outside == [] and problems.items == []
    context.close()
