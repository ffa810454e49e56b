"""The open model and thresholds in the HTML report: corrected percentiles, arrivals, verdicts.

Snapshots come from a real `StatsCollector` fed with `record(..., lag_ms=...)` and
`record_arrivals(...)`; pages are parsed back with the standard library's HTML parser, so
the assertions are about what a browser shows (cell texts, section ids, the charts' JSON).
"""

from __future__ import annotations

import json
from dataclasses import replace
from html.parser import HTMLParser

from loadhopper.report import format_ms
from loadhopper.report._html import MAX_REPORT_BYTES, render_html_report
from loadhopper.report._run_info import RunInfo
from loadhopper.stats import (
    ExceptionSnapshot,
    FailureSnapshot,
    StatsCollector,
    StatsSnapshot,
    ThresholdResult,
)

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SECONDS = 5
RUN = RunInfo(
    start_time=T0,
    end_time=T0 + SECONDS,
    users=0,
    spawn_rate=0.0,
    run_time=5.0,
    host="http://127.0.0.1:8000",
    locustfile="locustfile.py",
    version="0.1.0",
)
OPEN_RUN = RunInfo(
    start_time=T0,
    end_time=T0 + SECONDS,
    users=0,
    spawn_rate=0.0,
    run_time=5.0,
    host="http://127.0.0.1:8000",
    locustfile="locustfile.py",
    version="0.1.0",
    load_model="arrival rate 10/s, up to 3 users",
)


class Page(HTMLParser):
    """Section ids, each section's table rows (cell texts) and paragraphs, and scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.paragraphs: dict[str, list[tuple[str, str]]] = {}  # section -> (class, text)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.json_scripts: dict[str, str] = {}
        self._where = "header"
        self._cell: list[str] | None = None
        self._para: tuple[str, list[str]] | None = None
        self._script_id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "section":
            self._where = a.get("id") or ""
            self.sections.append(self._where)
        elif tag == "tr":
            self.rows.setdefault(self._where, []).append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "p":
            self._para = (a.get("class") or "", [])
        elif tag == "a" and a.get("href", "").startswith("#"):  # type: ignore[union-attr]
            self.links.append((a.get("href") or "")[1:])
        elif tag == "script" and a.get("type") == "application/json":
            self._script_id = a.get("id")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[self._where][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "p" and self._para is not None:
            css, text = self._para
            self.paragraphs.setdefault(self._where, []).append((css, "".join(text)))
            self._para = None
        elif tag == "section":
            self._where = ""

    def handle_data(self, data: str) -> None:
        if self._script_id is not None:
            self.json_scripts[self._script_id] = data
            self._script_id = None
        if self._cell is not None:
            self._cell.append(data)
        if self._para is not None:
            self._para[1].append(data)

    def timeline(self) -> dict[str, object]:
        value = json.loads(self.json_scripts["lh-timeline"])
        assert isinstance(value, dict)
        return value


def parse(snapshot: StatsSnapshot, run: RunInfo) -> Page:
    page = Page()
    page.feed(render_html_report(snapshot, run, locustfile_source=None))
    page.close()
    return page


def _open_run() -> tuple[StatsCollector, StatsSnapshot]:
    """Five windows: /slow's iterations start 0..900 ms late, /plain has no schedule; each
    second 10 iterations are due, 2 start late and 1 is dropped."""
    c = StatsCollector(start_time=T0)
    for k in range(SECONDS):
        for i in range(10):
            c.record("GET", "/slow", 10.0, 5, None, lag_ms=100.0 * i)
        c.record("GET", "/slow", 10.0, 0, "HTTPError: 500", lag_ms=5000.0)  # a failure: not counted
        c.record("GET", "/plain", 3.0, 5, None)
        c.record_arrivals(due=10, late=2, dropped=1)
        c.close_window(T0 + k + 1, user_count=3)
    return c, c.snapshot(T0 + SECONDS)


def _closed_run() -> StatsSnapshot:
    c = StatsCollector(start_time=T0)
    for k in range(SECONDS):
        c.record("GET", "/", 2.0, 10, None)
        c.close_window(T0 + k + 1, user_count=2)
    return c.snapshot(T0 + SECONDS)


def test_corrected_percentiles_sit_under_the_measured_ones_for_rows_with_a_schedule() -> None:
    collector, snapshot = _open_run()
    page = parse(snapshot, OPEN_RUN)
    assert "corrected" in page.sections and "corrected" in page.links
    header, *rows = page.rows["corrected"]
    assert header[:3] == ["Type", "Name", "Latency from"]
    assert header[3:6] == ["50%", "66%", "75%"] and header[-2:] == ["Average", "# Samples"]
    # /plain had no intended start: it is not in this table. /slow and the total are, twice.
    assert [(r[1], r[2]) for r in rows] == [
        ("/slow", "the send"),
        ("/slow", "intended start"),
        ("Aggregated", "the send"),
        ("Aggregated", "intended start"),
    ]
    measured, corrected = rows[0], rows[1]
    p95 = 3 + list(snapshot.percentiles).index(0.95)
    assert measured[p95] == format_ms(collector.percentile("GET", "/slow", 0.95)) == "10.0"
    assert corrected[p95] == format_ms(collector.percentile("GET", "/slow", 0.95, corrected=True))
    assert corrected[p95] == "910"  # 10 ms + the 900 ms lag of the latest iterations
    assert corrected[3] == format_ms(collector.percentile("GET", "/slow", 0.5, corrected=True))
    assert corrected[-1] == "50"  # successes with an intended start; the failures are not
    assert corrected[-2] == "460"  # 10 + mean(0..900)
    notes = " ".join(text for _, text in page.paragraphs["corrected"])
    assert "corrected for coordinated omission (from each iteration's intended start)" in notes


def test_the_arrivals_section_counts_due_late_and_dropped_and_warns() -> None:
    _, snapshot = _open_run()
    page = parse(snapshot, OPEN_RUN)
    table = {row[0]: row[1] for row in page.rows["arrivals"]}
    assert table == {
        "Due": "50",
        "Late": "10",
        "Dropped": "5",
        "Late ratio": "20.00%",
        "Dropped ratio": "10.00%",
    }
    warnings = [text for css, text in page.paragraphs["arrivals"] if css == "warn"]
    assert warnings == [
        "The generator could not keep the arrival rate: 10 iterations started late and 5 "
        "were dropped of 50 due, because no user was free; raise --max-users, or lower "
        "the rate."
    ]
    # The same warning and the load model are in the header, above everything.
    header = dict(page.paragraphs["header"][1:])
    assert header["model"] == "Load model: arrival rate 10/s, up to 3 users"
    assert header["warn"] == warnings[0]
    run_table = {row[0]: row[1] for row in page.rows["run"]}
    assert run_table["Load model"] == "arrival rate 10/s, up to 3 users"


def test_an_open_run_that_kept_its_rate_says_so_without_a_warning() -> None:
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 2.0, 1, None, lag_ms=0.0)
    c.record_arrivals(due=1)
    c.close_window(T0 + 1, user_count=1)
    page = parse(c.snapshot(T0 + 1), OPEN_RUN)
    assert ("note", "Every iteration started at its scheduled instant.") in page.paragraphs[
        "arrivals"
    ]
    assert all(css != "warn" for css, _ in page.paragraphs["arrivals"])
    assert "warn" not in dict(page.paragraphs["header"])


def test_the_charts_get_late_and_dropped_per_second_and_corrected_lines() -> None:
    _, snapshot = _open_run()
    page = parse(snapshot, OPEN_RUN)
    timeline = page.timeline()
    assert timeline["due"] == [10] * SECONDS
    assert timeline["late"] == [2] * SECONDS
    assert timeline["dropped"] == [1] * SECONDS
    assert timeline["corrected_p95"] == [910] * SECONDS
    assert timeline["corrected_p99"] == [910] * SECONDS
    assert timeline["p95"] == [10] * SECONDS
    assert "lh-chart-arrivals" in page.ids
    notes = " ".join(text for _, text in page.paragraphs["charts"])
    assert "Dashed: p95 and p99 corrected for coordinated omission" in notes


def test_the_thresholds_table_has_each_verdict_and_the_overall_one() -> None:
    results = (
        ThresholdResult("p95<200", "Aggregated", "p95", "<", 200.0, 12.34, True, unit="ms"),
        ThresholdResult(
            "GET /slow:corrected p99<500",
            "GET /slow",
            "corrected p99",
            "<",
            500.0,
            910.0,
            False,
            first_breach=T0 + 2,
            aborted=True,
            unit="ms",
        ),
        ThresholdResult("fail_ratio<0.01", "Aggregated", "fail_ratio", "<", 0.01, 0.0833, False),
        ThresholdResult(
            "dropped<1", "", "dropped", "<", 1.0, None, False, reason="no arrival rate ran"
        ),
    )
    _, snapshot = _open_run()
    run = replace(OPEN_RUN, thresholds=results)
    page = parse(snapshot, run)
    assert page.sections.index("thresholds") == 1  # right under the run's parameters
    header, *rows = page.rows["thresholds"]
    assert header == [
        "Threshold", "Row", "Metric", "Limit", "Value", "Result", "First breach",
        "Aborted the run",
    ]  # fmt: skip
    assert rows == [
        ["p95<200", "Aggregated", "p95", "< 200 ms", "12.3 ms", "PASS", "-", ""],
        [
            "GET /slow:corrected p99<500", "GET /slow", "corrected p99", "< 500 ms", "910 ms",
            "FAIL", "2023-11-14 22:13:22 UTC", "yes",
        ],
        ["fail_ratio<0.01", "Aggregated", "fail_ratio", "< 0.01", "0.0833", "FAIL", "-", ""],
        ["dropped<1", "the whole run", "dropped", "< 1", "no data (no arrival rate ran)", "FAIL",
         "-", ""],
    ]  # fmt: skip
    verdict = (
        "FAIL: 3 of 4 thresholds failed. The run was stopped early by GET /slow:corrected p99<500."
    )
    assert ("verdict fail", verdict) in page.paragraphs["thresholds"]
    assert ("verdict fail", f"Thresholds: {verdict}") in page.paragraphs["header"]
    assert "thresholds" in page.links

    passing = replace(RUN, thresholds=results[:1])
    page = parse(_closed_run(), passing)
    assert ("verdict pass", "PASS: all 1 threshold held.") in page.paragraphs["thresholds"]


def test_threshold_texts_are_escaped() -> None:
    xss = "<script>alert(1)</script>"
    result = ThresholdResult(xss, xss, "p95", "<", 1.0, 2.0, False)
    run = replace(RUN, thresholds=(result,), load_model=xss)
    text = render_html_report(_closed_run(), run, locustfile_source=None)
    assert xss not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert parse(_closed_run(), run).rows["thresholds"][1][:2] == [xss, xss]


def test_a_closed_model_run_without_thresholds_looks_as_before() -> None:
    page = parse(_closed_run(), RUN)
    assert page.sections == [
        "run", "stats", "percentiles", "failures", "exceptions", "health", "charts", "locustfile",
    ]  # fmt: skip
    assert page.links == page.sections
    assert [css for css, _ in page.paragraphs["header"]] == [""]  # host and time range only
    assert "Load model" not in {row[0] for row in page.rows["run"]}
    timeline = page.timeline()
    assert set(timeline) == {
        "start", "t", "rps", "fail_per_sec", "p50", "p95", "p99", "users", "stalled_ms",
    }  # fmt: skip
    assert "lh-chart-arrivals" not in page.ids
    assert "Dashed" not in " ".join(text for _, text in page.paragraphs["charts"])


def test_constant_pacing_samples_get_a_corrected_table_without_arrivals() -> None:
    # A closed model with pacing (an intended start, no schedule of arrivals): corrected
    # percentiles, but no Arrivals section or chart.
    c = StatsCollector(start_time=T0)
    c.record("GET", "/", 20.0, 1, None, lag_ms=30.0)
    c.close_window(T0 + 1, user_count=1)
    page = parse(c.snapshot(T0 + 1), RUN)
    assert "corrected" in page.sections and "arrivals" not in page.sections
    assert page.rows["corrected"][2][3] == "50.0"  # 20 ms + 30 ms late
    assert "lh-chart-arrivals" not in page.ids


def test_hostile_open_model_text_at_every_cap_stays_under_the_size_bound() -> None:
    # The worst case of test_html.py's, plus every new part at its cap: corrected rows with
    # names of `"` (six bytes escaped), hostile thresholds, a hostile load model, and an
    # hour of open-model points with corrected percentiles.
    quote, long_quote = '"' * 10_000, '"' * 100_000
    c = StatsCollector(start_time=T0, max_rows=520)
    for i in range(520):
        c.record("GET", quote + str(i), 1.0 + i, 1, None, lag_ms=float(i))
    for k in range(3600):
        c.record("GET", quote + "0", 1.5, 1, None, lag_ms=1e6 + k)
        c.record_arrivals(due=10**9, late=10**8, dropped=10**7)
        c.close_window(T0 + k + 1, user_count=10**6)
    # And test_html.py's full failure and exception sections, at their byte budgets.
    snapshot = replace(
        c.snapshot(T0 + 3600),
        failures=tuple(FailureSnapshot(quote, quote, quote, 1, T0, T0) for _ in range(10_000)),
        exceptions=tuple(ExceptionSnapshot(1, quote, long_quote) for _ in range(10_000)),
    )
    hostile = ThresholdResult(quote, quote, quote, "<", 1e300, 1.234e300, False, reason=quote)
    run = replace(
        RUN,
        host=quote,
        locustfile=quote,
        version=quote,
        load_model=quote,
        thresholds=(hostile,) * 1000,
    )
    text = render_html_report(snapshot, run, locustfile_source=long_quote * 10)
    assert 5_700_000 < len(text.encode("utf-8")) < MAX_REPORT_BYTES  # every section is full
    page = Page()
    page.feed(text)
    corrected = page.rows["corrected"]
    assert corrected[-3][0].startswith("… and ") and corrected[-1][2] == "intended start"
    thresholds = page.rows["thresholds"]
    assert thresholds[-1][0].startswith("… and ") and len(thresholds) < 100
