"""The self-contained HTML report: sections, escaping, caps, size bound, no external resources.

Pages are parsed back with the standard library's HTML parser, so the assertions are about
what a browser would see (cell texts, tag attributes, script contents), not about substrings
that could also occur inside the inlined plotly.js.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import traceback
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from loadhopper.report._html import (
    MAX_EXCEPTION_GROUPS,
    MAX_FAILURE_GROUPS,
    MAX_REPORT_BYTES,
    MAX_TIMELINE_POINTS,
    render_html_report,
    safe_inline_script,
    script_json,
    write_html_report,
)
from loadhopper.report._run_info import RunInfo
from loadhopper.stats import (
    DEFAULT_PERCENTILES,
    ExceptionSnapshot,
    FailureSnapshot,
    RowSnapshot,
    StatsCollector,
    StatsSnapshot,
    TimelinePoint,
)

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SEED_LOCUSTFILE = Path(__file__).parent.parent / "fixtures" / "seed_locustfile.py"
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


# ---- builders -------------------------------------------------------------------------


def row(method: str, name: str, *, requests: int = 10, failures: int = 0) -> RowSnapshot:
    return RowSnapshot(
        method=method,
        name=name,
        num_requests=requests,
        num_failures=failures,
        min_response_time=0.4123,
        max_response_time=250.0,
        avg_response_time=12.34,
        median_response_time=11.06,
        avg_content_length=512.4,
        total_rps=2.5,
        total_fail_per_sec=0.25,
        current_rps=9.0,
        current_fail_per_sec=1.0,
        percentiles=(*(10.0 + i for i in range(len(DEFAULT_PERCENTILES) - 1)), 250.0),
    )


def point(second: int, *, users: int = 10) -> TimelinePoint:
    return TimelinePoint(
        time=START + second,
        user_count=users,
        rps=100.0 + second % 7,
        fail_per_sec=float(second % 3),
        p50=1.234,
        p95=5.678,
        p99=None if second % 5 == 0 else 9.87654,
        avg_response_time=2.0,
        total_requests=100 * second,
        total_failures=second,
    )


def snapshot(**changes: object) -> StatsSnapshot:
    base = StatsSnapshot(
        start_time=START,
        end_time=START + 65.0,
        percentiles=DEFAULT_PERCENTILES,
        rows=(row("GET", "/"), row("POST", "/[id]/update", requests=6, failures=2)),
        total=row("", "Aggregated", requests=16, failures=2),
        failures=(),
        exceptions=(),
        timeline=tuple(point(s) for s in range(1, 6)),
        overflowed=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run_info(**changes: object) -> RunInfo:
    base = RunInfo(
        start_time=START,
        end_time=START + 65.0,
        users=50,
        spawn_rate=2.5,
        run_time=60.0,
        host="http://127.0.0.1:8089",
        locustfile="locustfile.py",
        version="0.1.0",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def failure(i: int, occurrences: int) -> FailureSnapshot:
    return FailureSnapshot("GET", f"/item/{i}", f"HTTPError: 500 #{i}", occurrences, START, START)


def exception(i: int, count: int, traceback_text: str = "Traceback ...\n") -> ExceptionSnapshot:
    return ExceptionSnapshot(count, f"ValueError: bad {i}", traceback_text)


# ---- a parsed page --------------------------------------------------------------------


class Page(HTMLParser):
    """What a browser would see: table cell texts per section, tags, and script texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.notes: dict[str, list[str]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.section = ""
        self._cell: list[str] | None = None
        self._note: list[str] | None = None
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self.section = attributes.get("id") or ""
        elif tag == "tr":
            self.tables.setdefault(self.section, []).append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p" and attributes.get("class") == "note":
            self._note = []
        elif tag == "script":
            self._script = attributes

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self.section][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "p" and self._note is not None:
            self.notes.setdefault(self.section, []).append("".join(self._note))
            self._note = None
        elif tag == "section":
            self.section = ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.scripts.append((self._script, data))
            self._script = None
        if self._cell is not None:
            self._cell.append(data)
        if self._note is not None:
            self._note.append(data)

    def timeline(self) -> dict[str, object]:
        (text,) = [text for attrs, text in self.scripts if attrs.get("id") == "lh-timeline"]
        value = json.loads(text)
        assert isinstance(value, dict)
        return value

    def text_of(self, section: str) -> str:
        return "\n".join("\t".join(r) for r in self.tables.get(section, []))


def parse(page: str) -> Page:
    parsed = Page()
    parsed.feed(page)
    parsed.close()
    return parsed


def render(snap: StatsSnapshot | None = None, info: RunInfo | None = None, **kw: object) -> str:
    source = kw.get("locustfile_source")
    assert source is None or isinstance(source, str)
    return render_html_report(snap or snapshot(), info or run_info(), locustfile_source=source)


# ---- sections -------------------------------------------------------------------------


def test_header_and_run_parameters() -> None:
    page = parse(render())
    assert ("h1", {}) in page.tags
    params = dict((r[0], r[1]) for r in page.tables["run"])
    assert params == {
        "Host": "http://127.0.0.1:8089",
        "Locustfile": "locustfile.py",
        "Users": "50",
        "Spawn rate": "2.5 users/s",
        "Run time limit": "1m 00s",
        "Start": "2023-11-14 22:13:20 UTC",
        "End": "2023-11-14 22:14:25 UTC",
        "Duration": "1m 05s",
        "loadhopper version": "0.1.0",
    }
    html_text = render()
    assert "<h1>loadhopper report</h1>" in html_text
    assert "2023-11-14 22:13:20 &ndash; 2023-11-14 22:14:25 UTC" in html_text
    assert "<title>loadhopper report: http://127.0.0.1:8089</title>" in html_text


def test_run_without_limit_or_host_and_after_a_stats_reset() -> None:
    info = run_info(run_time=None, host=None)
    page = parse(render(snapshot(start_time=START + 30.0), info))
    params = dict((r[0], r[1]) for r in page.tables["run"])
    assert params["Run time limit"] == "none (until stopped)"
    assert params["Host"] == "not set (each User class's own host)"
    assert params["Statistics since"] == "2023-11-14 22:13:50 UTC"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5.7, "5.7 s"), (60.0, "1m 00s"), (3725.0, "1h 02m 05s"), (90_000.0, "25h 00m 00s")],
)
def test_durations_are_readable(seconds: float, shown: str) -> None:
    info = run_info(run_time=seconds, end_time=START + seconds)
    params = dict((r[0], r[1]) for r in parse(render(info=info)).tables["run"])
    assert (params["Run time limit"], params["Duration"]) == (shown, shown)


def test_statistics_table_has_locusts_columns_and_formatted_values() -> None:
    rows = parse(render()).tables["stats"]
    assert rows[0] == [
        "Type", "Name", "# Requests", "# Fails", "Median (ms)", "Average (ms)", "Min (ms)",
        "Max (ms)", "Average size (bytes)", "RPS (run)", "Failures/s (run)",
    ]  # fmt: skip
    assert rows[1] == ["GET", "/", "10", "0", "11.1", "12.3", "0.412", "250", "512", "2.50", "0.25"]
    assert rows[2][:4] == ["POST", "/[id]/update", "6", "2"]
    assert rows[3][:4] == ["", "Aggregated", "16", "2"]  # the total row comes last


def test_percentiles_table_is_exact_to_three_digits() -> None:
    rows = parse(render()).tables["percentiles"]
    assert rows[0] == [
        "Type", "Name", "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%",
        "99.99%", "100%", "# Requests",
    ]  # fmt: skip
    assert rows[1] == ["GET", "/", *(f"{10 + i}.0" for i in range(10)), "250", "10"]
    assert rows[-1][1] == "Aggregated"


def test_overflowed_rows_are_explained() -> None:
    notes = parse(render(snapshot(overflowed=True))).notes["stats"]
    assert any("[other]" in note for note in notes)
    assert not any("[other]" in note for note in parse(render()).notes["stats"])


def test_failures_and_exceptions_are_listed_with_tracebacks() -> None:
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad 0\n'
    snap = snapshot(failures=(failure(1, 5), failure(2, 3)), exceptions=(exception(0, 4, tb),))
    page = parse(render(snap))
    assert page.tables["failures"][1] == [
        "5", "GET", "/item/1", "HTTPError: 500 #1", "2023-11-14 22:13:20", "2023-11-14 22:13:20",
    ]  # fmt: skip
    assert page.tables["failures"][2][0] == "3"
    assert page.tables["exceptions"][1] == ["4", "ValueError: bad 0", tb]


def test_empty_run_says_so_instead_of_drawing() -> None:
    empty = snapshot(rows=(), failures=(), exceptions=(), timeline=())
    page = parse(render(empty))
    assert page.notes["failures"] == ["No failures."]
    assert page.notes["exceptions"] == ["No exceptions were raised in tasks."]
    assert "first one-second window" in page.notes["charts"][0]
    assert not any(attrs.get("class") == "chart" for _, attrs in page.tags)
    assert page.timeline()["t"] == []


def test_locustfile_source_is_inlined_escaped_and_collapsible() -> None:
    source = SEED_LOCUSTFILE.read_text(encoding="utf-8")
    page_text = render(locustfile_source=source)
    assert ("details", {}) in parse(page_text).tags
    code = page_text.split("<pre><code>", 1)[1].split("</code></pre>", 1)[0]
    assert html.unescape(code) == source  # byte for byte, once the browser unescapes it
    assert code == html.escape(source)
    lines = source.count("\n")
    assert f"Show the source ({lines} lines)" in page_text
    missing = parse(render(locustfile_source=None))
    assert missing.notes["locustfile"] == ["The locustfile source was not available."]


def test_a_huge_locustfile_is_truncated_with_a_note() -> None:
    source = "x = '<&>'\n" * 100_000  # 1 MB, and it triples when escaped
    page = parse(render(locustfile_source=source))
    (note,) = page.notes["locustfile"]
    assert note.startswith("Truncated: the first ") and note.endswith(
        f"of {len(source)} characters are shown."
    )


# ---- escaping and self-containment ----------------------------------------------------


def test_user_text_is_escaped_everywhere() -> None:
    snap = snapshot(
        rows=(row("GET", XSS), row(XSS, "/")),
        failures=(FailureSnapshot(XSS, XSS, XSS, 1, START, START),),
        exceptions=(ExceptionSnapshot(1, XSS, XSS),),
    )
    info = run_info(host=XSS, locustfile=XSS, version=XSS)
    page_text = render(snap, info, locustfile_source=XSS)
    assert XSS not in page_text
    assert page_text.count(XSS_ESCAPED) >= 12
    page = parse(page_text)
    # Only the three scripts loadhopper writes: plotly.js, the chart data and the chart code.
    assert len([tag for tag, _ in page.tags if tag == "script"]) == 3


def test_chart_data_cannot_close_its_script_element() -> None:
    text = script_json({"name": "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"name": "</script><!-- & \u2028"}


def test_inlined_javascript_cannot_close_its_script_element() -> None:
    js = 'var a = "</script>", b = /<!--/, c = "</SCRIPT";'
    safe = safe_inline_script(js)
    assert "</script" not in safe.lower() and "<!--" not in safe
    assert safe == 'var a = "<\\/script>", b = /<\\!--/, c = "<\\/SCRIPT";'


def test_no_external_resources_and_plotly_is_inlined() -> None:
    page_text = render()
    page = parse(page_text)
    for tag, attrs in page.tags:
        assert "src" not in attrs, (tag, attrs)  # every script is inline; no images, frames
        href = attrs.get("href")
        assert href is None or href.startswith("#"), (tag, attrs)
        assert tag not in ("link", "iframe", "img", "object", "embed"), tag
    plotly = [text for attrs, text in page.scripts if not attrs and "plotly.js v" in text]
    assert plotly and len(plotly[0]) > 1_000_000
    assert "Plotly.newPlot" in page_text


def test_rendering_is_deterministic() -> None:
    assert render() == render()


# ---- charts ---------------------------------------------------------------------------


def test_timeline_is_compact_json_for_the_charts() -> None:
    data = parse(render()).timeline()
    assert data["start"] == START + 1
    assert data["t"] == [0, 1, 2, 3, 4]
    assert data["rps"] == [101, 102, 103, 104, 105]
    assert data["fail_per_sec"] == [1, 2, 0, 1, 2]
    assert data["p50"] == [1.23] * 5
    assert data["p99"] == [9.88, 9.88, 9.88, 9.88, None]  # a window with no success: a gap
    assert data["users"] == [10] * 5


def test_a_long_timeline_is_thinned_evenly_keeping_both_ends() -> None:
    timeline = tuple(point(s) for s in range(1, 5001))
    data = parse(render(snapshot(timeline=timeline))).timeline()
    times = data["t"]
    assert isinstance(times, list) and len(times) == MAX_TIMELINE_POINTS
    assert times[0] == 0 and times[-1] == 4999


# ---- caps and the size bound ----------------------------------------------------------


def test_failures_are_capped_with_a_count_of_the_rest() -> None:
    failures = tuple(failure(i, 20_000 - i) for i in range(10_000))
    page = parse(render(snapshot(failures=failures)))
    rows = page.tables["failures"]
    assert len(rows) == 1 + MAX_FAILURE_GROUPS + 1
    rest = sum(20_000 - i for i in range(MAX_FAILURE_GROUPS, 10_000))
    assert rows[-1] == [f"… and {10_000 - MAX_FAILURE_GROUPS} more groups ({rest} occurrences)"]


def test_exceptions_and_their_tracebacks_are_capped() -> None:
    long_tb = (
        "Traceback (most recent call last):\n" + "  frame\n" * 20_000 + "KeyError: 'the end'\n"
    )
    exceptions = tuple(exception(i, 3, long_tb) for i in range(10_000))
    page = parse(render(snapshot(exceptions=exceptions)))
    rows = page.tables["exceptions"][1:]
    shown = len(rows) - 1
    assert 0 < shown <= MAX_EXCEPTION_GROUPS
    assert rows[-1] == [f"… and {10_000 - shown} more groups ({3 * (10_000 - shown)} occurrences)"]
    tb_cell = rows[0][2]
    assert len(tb_cell) < 3200 and "characters cut" in tb_cell
    assert tb_cell.startswith("Traceback") and tb_cell.endswith("KeyError: 'the end'\n")


def test_a_large_run_stays_under_the_size_bound() -> None:
    long_tb = "Traceback (most recent call last):\n" + '  File "x.py", line 9\n' * 5_000
    snap = snapshot(
        rows=tuple(row("GET", f"/api/v1/things/{i}/details") for i in range(500)),
        failures=tuple(failure(i, 1) for i in range(10_000)),
        exceptions=tuple(exception(i, 1, long_tb) for i in range(10_000)),
        timeline=tuple(point(s) for s in range(1, 3601)),
    )
    page_text = render(snap, locustfile_source=SEED_LOCUSTFILE.read_text(encoding="utf-8"))
    assert len(page_text.encode("utf-8")) < MAX_REPORT_BYTES
    page = parse(page_text)
    assert len(page.tables["stats"]) == 1 + 500 + 1  # every row fits: nothing left out
    assert len(page.tables["percentiles"]) == 1 + 500 + 1


def test_hostile_text_at_every_cap_stays_under_the_size_bound() -> None:
    # `"` escapes to six bytes, the worst case for every text the page shows.
    quote, long_quote = '"' * 10_000, '"' * 100_000
    snap = snapshot(
        rows=tuple(row("GET", quote + str(i)) for i in range(520)),
        failures=tuple(
            FailureSnapshot(quote, quote, quote, 1, START, START) for _ in range(10_000)
        ),
        exceptions=tuple(ExceptionSnapshot(1, quote, long_quote) for _ in range(10_000)),
        timeline=tuple(replace(point(s), rps=1.234e300, user_count=10**12) for s in range(9000)),
    )
    info = run_info(host=quote, locustfile=quote, version=quote)
    page_text = render(snap, info, locustfile_source=long_quote * 10)
    assert len(page_text.encode("utf-8")) < MAX_REPORT_BYTES
    page = parse(page_text)
    # Byte budgets, not only row caps, cut the tables; each says exactly what it left out.
    stats_rows = page.tables["stats"]
    shown = len(stats_rows) - 3  # the header, the note and the Aggregated row
    assert stats_rows[-2][0].startswith(f"… and {520 - shown} more rows")
    assert stats_rows[-1][1] == "Aggregated"  # the total row is never left out
    failure_rows = page.tables["failures"]
    shown = len(failure_rows) - 2
    assert 10 < shown < MAX_FAILURE_GROUPS
    assert failure_rows[-1] == [
        f"… and {10_000 - shown} more groups ({10_000 - shown} occurrences)"
    ]


# ---- from a real collector, and to a file ---------------------------------------------


def _collected() -> StatsSnapshot:
    collector = StatsCollector(start_time=START)
    for second in range(3):
        for i in range(10):
            collector.record("GET", "/", 1.0 + i, 100, None)
        collector.record("POST", "/[id]/update", 5.0, 10, ConnectionRefusedError("refused"))
        collector.close_window(START + second + 1, user_count=second + 1)
    try:
        raise KeyError("no pk")
    except KeyError as exc:
        collector.record_exception(repr(exc), traceback.format_exc())
    return collector.snapshot(START + 3.5)


def test_renders_a_real_collectors_snapshot() -> None:
    page = parse(render(_collected()))
    stats = {(r[0], r[1]): r for r in page.tables["stats"][1:]}
    assert stats[("GET", "/")][2:4] == ["30", "0"]
    assert stats[("POST", "/[id]/update")][2:4] == ["3", "3"]
    assert stats[("", "Aggregated")][2:4] == ["33", "3"]
    (fail_row,) = page.tables["failures"][1:]
    assert fail_row[:3] == ["3", "POST", "/[id]/update"] and "refused" in fail_row[3]
    (exc_row,) = page.tables["exceptions"][1:]
    assert exc_row[0] == "1" and "KeyError" in exc_row[1] and "raise KeyError" in exc_row[2]
    assert page.timeline()["users"] == [1, 2, 3]


def test_write_html_report_writes_the_rendered_page(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("an older report", encoding="utf-8")
    snap, info = _collected(), run_info()
    write_html_report(target, snap, info, locustfile_source="pass\n")
    expected = render_html_report(snap, info, locustfile_source="pass\n")
    assert target.read_text(encoding="utf-8") == expected
    assert os.listdir(tmp_path) == ["report.html"]  # the temporary file is gone


# ---- a real browser, with the network blocked -----------------------------------------

CHROMIUM = "/usr/bin/chromium"


# `./dev test` installs chromium and playwright: a missing browser is a failure, not a skip.
def test_browser_draws_the_charts_offline(tmp_path: Path) -> None:
    assert shutil.which(CHROMIUM), (
        "the browser tests need /usr/bin/chromium (./dev test installs it)"
    )
    from playwright import sync_api

    report = tmp_path / "report.html"
    collected = _collected()  # plus a hostile name: if it ran, a dialog would open
    snap = replace(collected, rows=(*collected.rows, row("GET", XSS)))
    write_html_report(report, snap, run_info(), locustfile_source=XSS)
    dialogs: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    blocked: list[str] = []
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("requestfailed", lambda request: failed.append(request.url))

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()  # an undismissed dialog would freeze the page

            page.on("dialog", on_dialog)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(report.as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == 3
            assert page.locator("#lh-chart-users .scatterlayer .trace").count() == 1
            artifacts = Path(__file__).parents[2] / "artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "html_report.png"), full_page=True)
        finally:
            browser.close()
    assert (failed, errors, blocked, dialogs) == ([], [], [], [])
