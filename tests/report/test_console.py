from __future__ import annotations

from report_snapshots import make_row, make_snapshot

from loadhopper.report import (
    RateKind,
    format_exceptions,
    format_failures,
    format_percentiles_table,
    format_stats_table,
    format_summary,
)
from loadhopper.stats import StatsSnapshot


def _line_starting(text: str, prefix: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(prefix))


def test_periodic_table_labels_current_rates(snapshot: StatsSnapshot) -> None:
    table = format_stats_table(snapshot, rates=RateKind.CURRENT)
    header = table.splitlines()[0]
    for column in ("Type", "Name", "# reqs", "# fails(%)", "Avg", "Min", "Max", "Med"):
        assert column in header
    assert "req/s (10s)" in header and "fail/s (10s)" in header
    assert "(run)" not in header
    get_line = _line_starting(table, "GET ")
    assert get_line.split()[-2:] == ["3.50", "0.50"]  # current_rps, current_fail_per_sec


def test_final_table_labels_whole_run_rates(snapshot: StatsSnapshot) -> None:
    table = format_stats_table(snapshot, rates=RateKind.TOTAL)
    header = table.splitlines()[0]
    assert "req/s (run)" in header and "fail/s (run)" in header
    assert "(10s)" not in header
    get_line = _line_starting(table, "GET ")
    assert get_line.split()[-2:] == ["2.00", "0.25"]  # total_rps, total_fail_per_sec


def test_stats_rows_and_aggregated_row(snapshot: StatsSnapshot) -> None:
    table = format_stats_table(snapshot, rates=RateKind.TOTAL)
    get_line = _line_starting(table, "GET ")
    # name, reqs, fails(%), |, avg, min, max, med
    assert get_line.split()[1:9] == ["/", "10", "0(0.00%)", "|", "13.6", "6.17", "37.0", "12.3"]
    post_line = _line_starting(table, "POST ")
    assert "2(20.00%)" in post_line
    assert "0.412" in post_line.split()  # sub-millisecond median, not rounded to 0
    aggregated = next(line for line in table.splitlines() if "Aggregated" in line)
    assert aggregated.split()[:3] == ["Aggregated", "20", "2(10.00%)"]
    lines = table.splitlines()
    assert lines.index(aggregated) > lines.index(post_line)


def test_missing_latency_is_a_dash_not_zero() -> None:
    snap = make_snapshot((make_row("GET", "/down", failures=10, latency=None),))
    line = _line_starting(format_stats_table(snap, rates=RateKind.TOTAL), "GET ")
    assert line.split()[5:9] == ["-", "-", "-", "-"]


def test_long_names_are_truncated_and_columns_stay_aligned() -> None:
    long_name = "/api/" + "x" * 200 + "/tail"
    snap = make_snapshot((make_row("GET", long_name), make_row("GET", "/")))
    table = format_stats_table(snap, rates=RateKind.CURRENT, max_name_width=30)
    lines = table.splitlines()
    line = _line_starting(table, "GET      /api/")
    assert long_name not in line
    assert "..." in line and "/tail" in line
    # Every row's "|" sits under the header's "|".
    bar = lines[0].index("|")
    assert all(row[bar] == "|" for row in lines[2:5] if "|" in row)


def test_overflow_is_reported() -> None:
    table = format_stats_table(make_snapshot(overflowed=True), rates=RateKind.TOTAL)
    assert "--max-stats-rows" in table
    assert "--max-stats-rows" not in format_stats_table(make_snapshot(), rates=RateKind.TOTAL)


def test_percentile_table_exact_values(snapshot: StatsSnapshot) -> None:
    table = format_percentiles_table(snapshot)
    assert table.startswith("Response time percentiles")
    header = table.splitlines()[1].split()
    expected = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
    assert header == ["Type", "Name", *expected, "#", "reqs"]
    get_values = _line_starting(table, "GET ").split()
    # 12.345 * (1 + i/10) for i in 0..10, to 3 significant digits, then the count.
    assert get_values[2:] == [
        "12.3", "13.6", "14.8", "16.0", "17.3", "18.5", "19.8", "21.0", "22.2", "23.5", "24.7",
        "10",
    ]  # fmt: skip
    aggregated = next(line for line in table.splitlines() if "Aggregated" in line).split()
    assert aggregated[1] == "1234" and aggregated[-1] == "20"


def test_error_report_groups_failures(snapshot: StatsSnapshot) -> None:
    report = format_failures(snapshot)
    lines = report.splitlines()
    assert lines[0] == "Error report"
    assert lines[1].split() == ["#", "occurrences", "Error"]
    assert lines[3].split(maxsplit=1) == ["2", "POST /[id]/update: ConnectionRefusedError: refused"]
    assert format_failures(make_snapshot()) == ""


def test_exceptions_show_first_message_line(snapshot: StatsSnapshot) -> None:
    report = format_exceptions(snapshot)
    assert report.splitlines()[0] == "Exceptions"
    assert report.splitlines()[3].split(maxsplit=1) == ["3", "ValueError: no pk yet"]
    assert "second line" not in report
    assert format_exceptions(make_snapshot()) == ""


def test_summary_has_every_section_in_order(snapshot: StatsSnapshot) -> None:
    summary = format_summary(snapshot)
    positions = [
        summary.index("req/s (run)"),
        summary.index("Response time percentiles"),
        summary.index("Error report"),
        summary.index("Exceptions"),
    ]
    assert positions == sorted(positions)
    assert "Error report" not in format_summary(make_snapshot())
