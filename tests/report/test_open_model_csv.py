"""The CSV files' open-model columns: appended after Locust's, only when there is data."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from loadhopper.cli._options import Options
from loadhopper.cli._outputs import Outputs
from loadhopper.report import CsvReport, history_csv_header, stats_csv_header, stats_csv_rows
from loadhopper.report._format import format_ms
from loadhopper.stats import DEFAULT_PERCENTILES, StatsCollector

T0 = 1_700_000_000.0
CORRECTED_STATS = [
    "Corrected Request Count",
    "Corrected Median Response Time",
    "Corrected Average Response Time",
    "Corrected Max Response Time",
    "Corrected 50%",
]
OPEN_HISTORY = [
    "Iterations Due/s",
    "Iterations Late/s",
    "Iterations Dropped/s",
    "Total Due",
    "Total Late",
    "Total Dropped",
    "Corrected 50%",
]


def _window(c: StatsCollector, k: int, *, lag: bool, arrivals: bool) -> None:
    """Window k: 10 GET /fast of 10 ms (the i-th i ms late with `lag`), one GET /closed."""
    for i in range(10):
        c.record("GET", "/fast", 10.0, 5, None, lag_ms=float(i) if lag else None)
    c.record("GET", "/closed", 5.0, 5, None)
    if arrivals:
        c.record_arrivals(due=10, late=2 if k == 3 else 0, dropped=1 if k == 4 else 0)
    c.close_window(T0 + k + 1, user_count=3)


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _run_report(
    tmp_path: Path, *, lag: bool, arrivals: bool, open_model: bool, full_history: bool = False
) -> tuple[CsvReport, StatsCollector]:
    c = StatsCollector(start_time=T0)
    report = CsvReport(
        str(tmp_path / "run"),
        DEFAULT_PERCENTILES,
        open_model=open_model,
        full_history=full_history,
    )
    report.start()
    for k in range(6):
        _window(c, k, lag=lag, arrivals=arrivals)
        snap = c.snapshot(T0 + k + 1)
        report.append_history(snap, 3)
        report.write(snap)
    return report, c


def test_a_closed_run_keeps_locusts_columns_exactly(tmp_path: Path) -> None:
    report, _ = _run_report(tmp_path, lag=False, arrivals=False, open_model=False)
    history = _read(report.history_path)
    assert history[0] == history_csv_header(DEFAULT_PERCENTILES)
    assert history[0][-1] == "Total Average Content Size"
    assert {len(row) for row in history} == {len(history[0])}
    stats = _read(report.stats_path)
    assert stats[0] == stats_csv_header(DEFAULT_PERCENTILES)
    assert stats[0][-1] == "100%"
    assert {len(row) for row in stats} == {len(stats[0])}


def test_stats_csv_appends_corrected_columns_when_a_row_has_them(tmp_path: Path) -> None:
    report, c = _run_report(tmp_path, lag=True, arrivals=False, open_model=False)
    stats = _read(report.stats_path)
    header = stats[0]
    locust = stats_csv_header(DEFAULT_PERCENTILES)
    assert header[: len(locust)] == locust  # Locust's columns first, unchanged
    extra = header[len(locust) :]
    assert extra[:5] == CORRECTED_STATS and extra[-1] == "Corrected 100%"
    assert len(extra) == 4 + len(DEFAULT_PERCENTILES)
    rows = {row[1]: dict(zip(header, row, strict=True)) for row in stats[1:]}
    fast = rows["/fast"]
    assert fast["Corrected Request Count"] == "60"
    # 10 ms plus 0..9 ms of lag: the corrected maximum is 19 ms, the uncorrected 10 ms.
    assert fast["Corrected Max Response Time"] == "19.000"
    assert fast["Max Response Time"] == "10.000"
    assert fast["Corrected Average Response Time"] == "14.500"
    assert fast["Corrected 99%"] == format_ms(c.percentile("GET", "/fast", 0.99, corrected=True))
    closed = rows["/closed"]  # no schedule: nothing to correct
    assert closed["Corrected Request Count"] == "0"
    assert {closed[name] for name in extra[1:]} == {"N/A"}


def test_an_arrival_rate_run_has_the_history_columns_from_the_start(tmp_path: Path) -> None:
    report = CsvReport(str(tmp_path / "run"), DEFAULT_PERCENTILES, open_model=True)
    report.start()
    # Before any window: both headers already have the columns.
    assert _read(report.history_path)[0][-len(DEFAULT_PERCENTILES) - 6 :][:7] == OPEN_HISTORY
    assert _read(report.stats_path)[0][-len(DEFAULT_PERCENTILES) - 4 :][:5] == CORRECTED_STATS

    report, _ = _run_report(tmp_path, lag=True, arrivals=True, open_model=True)
    history = _read(report.history_path)
    header = history[0]
    assert {len(row) for row in history} == {len(header)}
    assert len(history) == 7
    rows = [dict(zip(header, row, strict=True)) for row in history[1:]]
    # 10 due a second; 2 late in window 3, 1 dropped in window 4; rates over the windows
    # so far (up to 10 s).
    assert [r["Total Due"] for r in rows] == ["10", "20", "30", "40", "50", "60"]
    assert [r["Total Late"] for r in rows] == ["0", "0", "0", "2", "2", "2"]
    assert [r["Total Dropped"] for r in rows] == ["0", "0", "0", "0", "1", "1"]
    assert rows[-1]["Iterations Due/s"] == "10.000"
    assert rows[-1]["Iterations Late/s"] == f"{2 / 6:.3f}"
    assert rows[-1]["Iterations Dropped/s"] == f"{1 / 6:.3f}"
    assert rows[-1]["Corrected 100%"] == "19.0"
    assert rows[-1]["100%"] == "10.0"


def test_pacing_users_add_the_columns_at_the_first_row(tmp_path: Path) -> None:
    # No arrival rate known before the test: the first row has corrected latencies, so the
    # header written at start() is replaced by one with the columns.
    report, _ = _run_report(tmp_path, lag=True, arrivals=False, open_model=False)
    history = _read(report.history_path)
    assert history[0][len(history_csv_header(DEFAULT_PERCENTILES)) :][:7] == OPEN_HISTORY
    assert {len(row) for row in history} == {len(history[0])}
    assert len(history) == 7  # one header, six rows: nothing written twice
    row = dict(zip(history[0], history[-1], strict=True))
    assert row["Total Due"] == "0" and row["Corrected 100%"] == "19.0"


def test_columns_decided_at_the_first_row_never_change(tmp_path: Path) -> None:
    # A first window without schedules fixes the closed layout for the whole file.
    c = StatsCollector(start_time=T0)
    report = CsvReport(str(tmp_path / "run"), DEFAULT_PERCENTILES)
    report.start()
    _window(c, 0, lag=False, arrivals=False)
    report.append_history(c.snapshot(T0 + 1), 3)
    for k in range(1, 4):
        _window(c, k, lag=True, arrivals=True)
        report.append_history(c.snapshot(T0 + k + 1), 3)
    history = _read(report.history_path)
    assert history[0] == history_csv_header(DEFAULT_PERCENTILES)
    assert {len(row) for row in history} == {len(history[0])}


def test_full_history_puts_iteration_counts_on_the_aggregated_row_only(tmp_path: Path) -> None:
    report, _ = _run_report(tmp_path, lag=True, arrivals=True, open_model=True, full_history=True)
    history = _read(report.history_path)
    header = history[0]
    last = [dict(zip(header, row, strict=True)) for row in history[-3:]]
    assert [r["Name"] for r in last] == ["/closed", "/fast", "Aggregated"]
    assert [r["Total Due"] for r in last] == ["", "", "60"]
    assert [r["Corrected 100%"] for r in last] == ["N/A", "19.0", "19.0"]


def test_stats_rows_can_be_asked_for_the_corrected_columns() -> None:
    c = StatsCollector(start_time=T0)
    _window(c, 0, lag=False, arrivals=False)
    rows = stats_csv_rows(c.snapshot(T0 + 1), corrected=True)
    assert rows[0][-len(DEFAULT_PERCENTILES) - 4 :][:5] == CORRECTED_STATS
    assert rows[-1][-len(DEFAULT_PERCENTILES) - 4 :] == ["0"] + ["N/A"] * (
        3 + len(DEFAULT_PERCENTILES)
    )
    assert stats_csv_rows(c.snapshot(T0 + 1))[0] == stats_csv_header(DEFAULT_PERCENTILES)


def test_the_new_header_is_written_even_when_the_first_row_fails(tmp_path: Path) -> None:
    c = StatsCollector(start_time=T0)
    report = CsvReport(str(tmp_path / "run"), DEFAULT_PERCENTILES)
    report.start()
    # The history file is briefly a folder: the first append fails for real (EISDIR).
    report.history_path.unlink()
    report.history_path.mkdir()
    _window(c, 0, lag=True, arrivals=False)
    with pytest.raises(OSError):
        report.append_history(c.snapshot(T0 + 1), 3)
    assert report.pending_history_rows == 1
    # It comes back holding a stray partial line, which the retry must cut off.
    report.history_path.rmdir()
    report.history_path.write_text("Timestamp,User Co", encoding="utf-8")
    _window(c, 1, lag=True, arrivals=False)
    report.append_history(c.snapshot(T0 + 2), 3)
    history = _read(report.history_path)
    assert history[0][len(history_csv_header(DEFAULT_PERCENTILES)) :][:7] == OPEN_HISTORY
    assert [row[0] for row in history[1:]] == [str(int(T0 + 1)), str(int(T0 + 2))]
    assert {len(row) for row in history} == {len(history[0])}


@pytest.mark.parametrize(
    ("options", "columns"),
    [
        (Options(arrival_rate=200.0), True),
        (Options(arrival_stages=((30.0, 100.0),)), True),
        (Options(num_users=10, spawn_rate=5.0), False),
    ],
)
def test_the_cli_asks_for_the_columns_when_the_run_has_an_arrival_rate(
    tmp_path: Path, options: Options, columns: bool
) -> None:
    options = dataclasses.replace(options, csv_prefix=str(tmp_path / "run"))
    outputs = Outputs(options, DEFAULT_PERCENTILES)
    outputs.start()
    assert outputs.csv is not None
    header = _read(outputs.csv.history_path)[0]
    assert ("Iterations Due/s" in header) is columns
    assert ("Corrected 50%" in _read(outputs.csv.stats_path)[0]) is columns
