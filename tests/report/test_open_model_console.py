"""The console's open-model lines: corrected percentiles, arrivals, the warning, thresholds."""

from __future__ import annotations

from loadhopper.report import RateKind, RunInfo, format_percentiles_table, format_stats_table
from loadhopper.report._console import format_summary, format_thresholds, threshold_value
from loadhopper.report._format import format_ms
from loadhopper.stats import StatsCollector, StatsSnapshot, ThresholdResult

T0 = 1_700_000_000.0
NEW_PARTS = ("Arrivals", "(corrected)", "Thresholds", "Load model", "arrival rate")


def _collector(
    seconds: int = 20,
    *,
    lag: bool = True,
    arrivals: bool = True,
    late_at: int | None = 7,
    dropped_at: int | None = 18,
) -> StatsCollector:
    """`seconds` windows of 10 GET /fast (10 ms) and one GET /closed (5 ms, no schedule).

    With `lag`, GET /fast's i-th request of window 7 started i * 20 ms late; with
    `arrivals`, each window had 10 iterations due, 3 late in `late_at`, 1 dropped in
    `dropped_at`.
    """
    c = StatsCollector(start_time=T0)
    for k in range(seconds):
        for i in range(10):
            lag_ms = float(i * 20 if k == 7 else 0) if lag else None
            c.record("GET", "/fast", 10.0, 5, None, lag_ms=lag_ms)
        c.record("GET", "/closed", 5.0, 5, None)
        if arrivals:
            late = 3 if k == late_at else 0
            c.record_arrivals(due=10, late=late, dropped=1 if k == dropped_at else 0)
        c.close_window(T0 + k + 1, user_count=4)
    return c


def _run(**fields: object) -> RunInfo:
    base: dict[str, object] = {
        "start_time": T0,
        "end_time": T0 + 20,
        "users": 4,
        "spawn_rate": 1.0,
        "run_time": 20.0,
        "host": "http://127.0.0.1:8000",
        "locustfile": "locustfile.py",
        "version": "0.1.0",
    }
    return RunInfo(**{**base, **fields})  # type: ignore[arg-type]


def _lines_with(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if word in line]


def test_a_closed_run_without_thresholds_shows_none_of_the_new_parts() -> None:
    snap = _collector(lag=False, arrivals=False).snapshot(T0 + 20)
    summary = format_summary(snap)
    assert summary == format_summary(snap, run=_run())
    periodic = format_stats_table(snap, rates=RateKind.CURRENT)
    for part in NEW_PARTS:
        assert part not in summary and part not in periodic
    # The table ends with its note, as it always did.
    assert periodic.splitlines()[-1].startswith("req/s (10s), fail/s (10s):")


def test_rows_with_intended_starts_get_a_corrected_line_under_them() -> None:
    c = _collector()
    table = format_percentiles_table(c.snapshot(T0 + 20))
    lines = table.splitlines()
    fast = next(i for i, line in enumerate(lines) if line.startswith("GET      /fast"))
    closed = next(i for i, line in enumerate(lines) if line.startswith("GET      /closed"))
    aggregated = next(i for i, line in enumerate(lines) if "Aggregated" in line)
    assert lines[fast + 1].split()[0] == "(corrected)"
    assert lines[aggregated + 1].split()[0] == "(corrected)"
    assert "(corrected)" not in lines[closed + 1]  # no schedule, no second line
    assert len(_lines_with(table, "(corrected)")) == 3  # two rows and the closing note

    # The values are the corrected histogram's: 10 ms plus up to 180 ms of lag at the top.
    values = lines[fast + 1].split()[1:]
    expected = [
        format_ms(c.percentile("GET", "/fast", q, corrected=True))
        for q in c.snapshot(T0 + 20).percentiles
    ]
    assert values == [*expected, "200"]  # and the count of samples with an intended start
    assert values[-2] == "190"  # the slowest: 10 ms response + 180 ms late start
    assert lines[fast].split()[-2] == "10.0"  # uncorrected max: from the send
    # Aligned: every value ends under its column's label.
    header = lines[1]
    for label in ("50%", "99.9%", "100%", "# reqs"):
        end = header.index(label) + len(label)
        assert lines[fast + 1][end - 1] != " " and lines[fast + 1][end : end + 1] in (" ", "")
    assert len(lines[fast + 1]) == len(lines[fast])


def test_the_periodic_table_counts_recent_arrivals_and_warns_when_behind() -> None:
    snap = _collector().snapshot(T0 + 20)
    table = format_stats_table(snap, rates=RateKind.CURRENT)
    (line,) = _lines_with(table, "Arrivals")
    # The last 10 windows (11..20): 100 due, the one drop of window 19; the late ones of
    # window 8 only in the totals.
    assert line == (
        "Arrivals in the last 10 s: 100 due (10.00/s), 0 started late (0.00/s), "
        "1 dropped (0.10/s); since the start: 200 due, 3 started late, 1 dropped."
    )
    (warning,) = _lines_with(table, "could not keep")
    assert warning == (
        "The generator could not keep the arrival rate in the last 10 s: 1 iteration "
        "dropped, 0 started late; raise --max-users or lower the rate."
    )


def test_no_warning_while_the_generator_keeps_the_rate() -> None:
    snap = _collector(late_at=None, dropped_at=None).snapshot(T0 + 20)
    for rates in RateKind:
        table = format_stats_table(snap, rates=rates)
        assert len(_lines_with(table, "Arrivals")) == 1
        assert "could not keep" not in table
    # An old breach is out of the periodic table's period but stays in the summary's.
    old = _collector(late_at=2, dropped_at=None).snapshot(T0 + 20)
    assert "could not keep" not in format_stats_table(old, rates=RateKind.CURRENT)
    assert "could not keep" in format_stats_table(old, rates=RateKind.TOTAL)


def test_the_summary_has_the_load_model_whole_run_arrivals_and_thresholds() -> None:
    snap = _collector().snapshot(T0 + 20)
    thresholds = (
        ThresholdResult("p95<200", "Aggregated", "p95", "<", 200.0, 10.0, True),
        ThresholdResult(
            "GET /fast:corrected p99<100",
            "GET /fast",
            "corrected p99",
            "<",
            100.0,
            180.0,
            False,
            first_breach=T0 + 7.5,
            aborted=True,
        ),
        ThresholdResult("rps>100", "Aggregated", "rps", ">", 100.0, 11.0, False, T0 + 2),
    )
    run = _run(load_model="arrival rate 10/s, up to 4 users", thresholds=thresholds)
    summary = format_summary(snap, run=run)
    assert summary.splitlines()[0] == "Load model: arrival rate 10/s, up to 4 users"
    assert _lines_with(summary, "Arrivals") == [
        "Arrivals over the run: 200 due (10.00/s), 3 started late (0.15/s), 1 dropped (0.05/s)."
    ]
    assert _lines_with(summary, "could not keep") == [
        "The generator could not keep the arrival rate: 1 iteration dropped, 3 started "
        "late; raise --max-users or lower the rate."
    ]
    table = summary[summary.index("Thresholds") :].splitlines()
    assert table[1].split() == ["Threshold", "Row", "Value", "Result", "First", "failed", "at"]
    assert table[3].split() == ["p95<200", "Aggregated", "10.0", "ms", "pass", "-"]
    assert table[4].split() == [
        "GET", "/fast:corrected", "p99<100", "GET", "/fast", "180", "ms", "FAIL", "+7.5", "s",
        "aborted", "the", "run",
    ]  # fmt: skip
    assert table[5].split() == ["rps>100", "Aggregated", "11.00/s", "FAIL", "+2.0", "s"]
    assert table[-1] == "2 of 3 thresholds failed."
    # Columns line up: each result starts under "Result".
    column = table[1].index("Result")
    assert [line[column : column + 4] for line in table[3:6]] == ["pass", "FAIL", "FAIL"]


def test_threshold_values_carry_their_unit() -> None:
    def value(metric: str, number: float | None) -> str:
        return threshold_value(ThresholdResult("x", "Aggregated", metric, "<", 1.0, number, True))

    assert value("p99.9", 1234.6) == "1235 ms"
    assert value("avg", 0.4123) == "0.412 ms"
    assert value("corrected max", 99.96) == "100 ms"
    assert value("fail_ratio", 0.0125) == "0.0125"
    assert value("rps", 98.2) == "98.20/s"
    assert value("dropped", 3.0) == "3"
    assert value("p95", None) == "no data"
    assert format_thresholds((), start_time=T0) == ""


def _snapshot_of_pacing() -> StatsSnapshot:
    return _collector(arrivals=False).snapshot(T0 + 20)


def test_pacing_users_get_corrected_lines_but_no_arrivals() -> None:
    summary = format_summary(_snapshot_of_pacing())
    assert "(corrected)" in summary
    assert "Arrivals" not in summary and "could not keep" not in summary
