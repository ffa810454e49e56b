"""The checks every hostile run must pass, whatever the server did to it.

A run is sound when it ended on time by itself, wrote every output, reported its failures as
a few short grouped messages with no user-code exceptions, exited with the code its failures
call for, and stayed within its memory bound. Counting checks (`assert_counted_once`) are
separate: they hold only where the server reads the whole request head before misbehaving
and nothing may legitimately send a request twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from hostile.cli_run import CSV_FILES, Outcome

__all__ = [
    "MESSAGE_CHARS",
    "assert_counted_once",
    "assert_rows",
    "assert_sound",
    "rss_bound_mib",
]

MESSAGE_CHARS = 300  # a failure message longer than this is not a one-line summary


def rss_bound_mib(users: int) -> float:
    """The peak RSS a run may reach: the CLI itself (about 55 MiB, measured on an /ok run)
    with room to spare, plus, per user, one response at the 64 MiB default body limit held
    twice over (its received pieces and the joined body): 400 MiB for two users.
    """
    return 144 + 128 * users


def assert_sound(outcome: Outcome, *, max_messages: int = 2) -> None:
    """The checks every run must pass (see the module docstring)."""
    scenario = outcome.scenario
    assert outcome.killed is None, f"the harness killed the run: {outcome.killed}"
    assert outcome.wall <= scenario.hang_bound, outcome.describe()  # hang detection only
    assert "Traceback" not in outcome.stderr, outcome.describe()
    _assert_outputs(outcome)
    summary = outcome.summary
    assert summary["exceptions"] == [], f"user code raised: {summary['exceptions']}"
    messages = {failure["error"] for failure in summary["failures"]}
    assert len(messages) <= max_messages, f"failures are not grouped: {sorted(messages)}"
    for message in messages:
        assert len(message) < MESSAGE_CHARS and "Traceback" not in message, message
        assert "\n" not in message, message
    failed = summary["aggregated"]["num_failures"] > 0
    assert outcome.returncode == (1 if failed else 0), outcome.describe()
    bound = rss_bound_mib(scenario.users)
    assert outcome.peak_rss_mib < bound, f"peak RSS {outcome.peak_rss_mib:.0f} MiB >= {bound}"


def assert_rows(outcome: Outcome, rows: Iterable[tuple[str, str]]) -> None:
    """The summary has exactly these (method, name) rows, each with at least one request."""
    expected = sorted(rows)
    reported = sorted((row["method"], row["name"]) for row in outcome.summary["rows"])
    assert reported == expected, f"rows {reported}, expected {expected}\n{outcome.describe()}"
    for method, name in expected:
        assert outcome.row(method, name)["num_requests"] > 0, (method, name)


def assert_counted_once(outcome: Outcome, *keys: tuple[str, str]) -> None:
    """For each (method, target), requested with `name=target`: reported == received."""
    assert outcome.server_idle, "the server still had open connections after the run"
    for method, target in keys:
        reported = outcome.row(method, target)["num_requests"]
        received = outcome.received.get((method, target), 0)
        assert reported == received, (
            f"{method} {target}: the server read {received} request heads, "
            f"the summary reports {reported}"
        )


def _assert_outputs(outcome: Outcome) -> None:
    for name in CSV_FILES:
        assert (outcome.directory / name).is_file(), f"{name} was not written"
    stats = outcome.csv("out_stats.csv")
    assert stats and stats[-1]["Name"] == "Aggregated", stats
    history = outcome.csv("out_stats_history.csv")
    assert history, "the stats history has no rows"
    failures = outcome.csv("out_failures.csv")
    try:
        summary = outcome.summary
    except (OSError, json.JSONDecodeError) as exc:
        raise AssertionError(f"the JSON summary is missing or broken: {exc}") from exc
    assert summary["schema"] == "loadhopper.summary/1"
    aggregated = summary["aggregated"]
    # The CSV and the JSON are two views of one snapshot: they must agree.
    assert int(stats[-1]["Request Count"]) == aggregated["num_requests"]
    assert int(stats[-1]["Failure Count"]) == aggregated["num_failures"]
    assert sum(int(row["Occurrences"]) for row in failures) == aggregated["num_failures"]
    report = (outcome.directory / "out.html").read_text()
    assert "loadhopper report" in report, "the HTML report is incomplete"
