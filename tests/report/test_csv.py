from __future__ import annotations

import csv
from pathlib import Path

from report_snapshots import make_row, make_snapshot

from loadhopper.report import (
    CsvReport,
    exceptions_csv_rows,
    failures_csv_rows,
    history_csv_header,
    history_csv_rows,
    stats_csv_rows,
)
from loadhopper.stats import DEFAULT_PERCENTILES, StatsSnapshot

PERCENTILE_COLUMNS = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%",
]  # fmt: skip
# Locust 2.x's exact column names (locust/stats.py StatsCSV), so existing dashboards keep working.
STATS_COLUMNS = [
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time",
    "Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
    "Requests/s", "Failures/s", *PERCENTILE_COLUMNS,
]  # fmt: skip
HISTORY_COLUMNS = [
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *PERCENTILE_COLUMNS,
    "Total Request Count", "Total Failure Count", "Total Median Response Time",
    "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
    "Total Average Content Size",
]  # fmt: skip


def test_stats_csv_columns_and_rows(snapshot: StatsSnapshot) -> None:
    rows = stats_csv_rows(snapshot)
    assert rows[0] == STATS_COLUMNS
    assert [row[:2] for row in rows[1:]] == [
        ["GET", "/"],
        ["POST", "/[id]/update"],
        ["", "Aggregated"],
    ]
    get = dict(zip(STATS_COLUMNS, rows[1], strict=True))
    assert get["Request Count"] == "10"
    assert get["Failure Count"] == "0"
    assert get["Median Response Time"] == "12.3"  # 3 significant digits, like the percentiles
    assert get["Average Response Time"] == "13.580"  # exact, to the microsecond
    assert get["Min Response Time"] == "6.173"
    assert get["Max Response Time"] == "37.035"
    assert get["Average Content Size"] == "512.00"
    assert get["Requests/s"] == "2.000"  # whole-run average, as Locust
    assert get["Failures/s"] == "0.250"
    assert get["99.9%"] == "22.2"
    post = dict(zip(STATS_COLUMNS, rows[2], strict=True))
    assert post["Median Response Time"] == "0.412"
    assert post["Failure Count"] == "2"


def test_stats_csv_missing_latency_is_na() -> None:
    rows = stats_csv_rows(make_snapshot((make_row("GET", "/down", failures=10, latency=None),)))
    down = dict(zip(STATS_COLUMNS, rows[1], strict=True))
    for column in ("Median Response Time", "Min Response Time", "Max Response Time", "100%"):
        assert down[column] == "N/A"


def test_history_rows_aggregated_only_by_default(snapshot: StatsSnapshot) -> None:
    assert history_csv_header(DEFAULT_PERCENTILES) == HISTORY_COLUMNS
    rows = history_csv_rows(snapshot, 7, full_history=False)
    assert len(rows) == 1
    row = dict(zip(HISTORY_COLUMNS, rows[0], strict=True))
    assert row["Timestamp"] == "1700000005"
    assert row["User Count"] == "7"
    assert (row["Type"], row["Name"]) == ("", "Aggregated")
    assert row["Requests/s"] == "7.000"  # the current rate, as Locust's history file
    assert row["Total Request Count"] == "20"
    assert row["Total Failure Count"] == "2"
    # Percentiles are cumulative to date: the same values as the snapshot's total row.
    assert row["50%"] == "1234" and row["100%"] == "2469"


def test_history_rows_full_history_adds_every_row_first(snapshot: StatsSnapshot) -> None:
    rows = history_csv_rows(snapshot, 7, full_history=True)
    assert [(r[2], r[3]) for r in rows] == [
        ("GET", "/"),
        ("POST", "/[id]/update"),
        ("", "Aggregated"),
    ]
    assert all(len(r) == len(HISTORY_COLUMNS) for r in rows)


def test_failures_and_exceptions_rows(snapshot: StatsSnapshot) -> None:
    assert failures_csv_rows(snapshot) == [
        ["Method", "Name", "Error", "Occurrences", "First Seen", "Last Seen"],
        [
            "POST",
            "/[id]/update",
            "ConnectionRefusedError: refused",
            "2",
            "2023-11-14T22:13:21Z",
            "2023-11-14T22:13:24Z",
        ],
    ]
    rows = exceptions_csv_rows(snapshot)
    assert rows[0] == ["Count", "Message", "Traceback", "Nodes"]
    assert rows[1][0] == "3" and rows[1][2].startswith("Traceback") and rows[1][3] == "local"


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_csv_report_writes_the_four_files(tmp_path: Path, snapshot: StatsSnapshot) -> None:
    report = CsvReport(str(tmp_path / "run"), DEFAULT_PERCENTILES, full_history=False)
    assert list(tmp_path.iterdir()) == []  # constructing touches no file
    report.start()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "run_exceptions.csv", "run_failures.csv", "run_stats.csv", "run_stats_history.csv",
    ]  # fmt: skip
    assert _read(tmp_path / "run_stats.csv") == [STATS_COLUMNS]
    report.append_history(snapshot, 3)
    report.append_history(snapshot, 4)
    report.write(snapshot)
    history = _read(tmp_path / "run_stats_history.csv")
    assert history[0] == HISTORY_COLUMNS
    assert [row[1] for row in history[1:]] == ["3", "4"]
    assert _read(tmp_path / "run_stats.csv") == stats_csv_rows(snapshot)
    assert _read(tmp_path / "run_failures.csv") == failures_csv_rows(snapshot)
    # The multi-line traceback survives CSV quoting.
    assert _read(tmp_path / "run_exceptions.csv") == exceptions_csv_rows(snapshot)
    assert not list(tmp_path.glob("*.tmp"))
    # Rewriting replaces, never appends.
    report.write(snapshot)
    assert _read(tmp_path / "run_stats.csv") == stats_csv_rows(snapshot)
