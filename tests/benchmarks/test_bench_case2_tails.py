"""Case 2's tails: the target's own service record (a real target on loopback), the exact
percentiles, the tool's percentiles from its files, and the lines that set them side by side.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case2 import Case2Result, Case2Row
from _report import case2_lines
from _tails import (
    NO_TAILS,
    Record,
    Tails,
    fetch_record,
    loadhopper_tails,
    locust_tails,
    nearest_rank,
    tails_of,
)
from _target_server import read_record
from _targets import own_target
from _tool_run import RunStatus
from _tools import Tool

# --- the target's record, from a real target ------------------------------------------------


def _get(connection: http.client.HTTPConnection, path: str) -> bytes:
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    return response.read()


@pytest.mark.parametrize("stamps", [True, False], ids=["stamped", "transports"])
def test_the_target_records_each_request_it_answers_and_a_fetch_clears_the_record(
    tmp_path: Path, stamps: bool
) -> None:
    with own_target(tmp_path, None, 10.0, stamps) as target:
        port = int(target.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for _ in range(5):
                assert _get(connection, "/") == b"ok"
            first = fetch_record(target.url)
            assert _get(connection, "/") == b"ok"
            second = fetch_record(target.url)
        finally:
            connection.close()
    assert len(first.services) == 5
    assert len(second.services) == 1  # the fetch cleared what it gave
    # Each answer took the target's 10 ms delay, and not a second (a hang would). The delay
    # is a uvloop timer, on a millisecond clock read when the loop's turn began: it may fire
    # up to 1 ms before 10 ms have passed since the request was read.
    assert all(0.009 <= s < 1.0 for s in [*first.services, *second.services])
    assert list(first.arrivals) == sorted(first.arrivals)
    assert second.arrivals[0] >= first.arrivals[-1]
    assert len(first.waits) == 5
    if not stamps:  # uvloop's transports read no stamps: the waits are unknown
        assert all(math.isnan(w) for w in first.waits)
        assert first.whole_from_socket() == NO_TAILS
        return
    # Linux stamps each request's arrival in the target's socket; the wait from there to
    # the target's read is known, never negative, and (an idle target) far below a second.
    assert all(0.0 <= w < 1.0 for w in first.waits)
    whole, from_socket = first.whole(), first.whole_from_socket()
    assert from_socket.count == 5
    assert whole.max_ms is not None and from_socket.max_ms is not None
    assert from_socket.max_ms >= whole.max_ms


def test_a_request_left_unread_in_the_targets_socket_counts_its_wait(tmp_path: Path) -> None:
    # The target's loop is held (SIGSTOP) while the request arrives: its service time starts
    # at the read, after the hold, but the kernel stamped the bytes as they came, so the
    # wait holds the hold and the from-socket time includes it.
    with own_target(tmp_path, None, 10.0, stamps=True) as target:
        port = int(target.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            assert _get(connection, "/") == b"ok"  # connected, and the target is running
            fetch_record(target.url)
            assert target.pid is not None
            os.kill(target.pid, signal.SIGSTOP)
            try:
                connection.request("GET", "/")
                time.sleep(0.3)
            finally:
                os.kill(target.pid, signal.SIGCONT)
            response = connection.getresponse()
            assert response.read() == b"ok"
            record = fetch_record(target.url)
        finally:
            connection.close()
    assert len(record.waits) == 1
    assert record.waits[0] >= 0.25
    assert record.services[0] < 0.25  # the target's service alone cannot see the hold
    assert record.whole_from_socket().max_ms == pytest.approx(
        1000.0 * (record.waits[0] + record.services[0])
    )


@pytest.mark.parametrize("stamps", [True, False], ids=["stamped", "transports"])
def test_fetching_the_record_is_not_counted_as_a_request(tmp_path: Path, stamps: bool) -> None:
    with own_target(tmp_path, None, 0.0, stamps) as target:
        port = int(target.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            _get(connection, "/")
            fetch_record(target.url)
            fetch_record(target.url)
            _get(connection, "/")
        finally:
            connection.close()
        # The count is printed every 0.25 s: wait for the two requests (bounded), then two
        # more reports, which would show a fetch counted.
        deadline = time.monotonic() + 10.0
        while (target.request_count() or 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.6)
        assert target.request_count() == 2


def test_a_record_that_does_not_match_its_count_is_refused() -> None:
    with pytest.raises(ValueError, match="not 8"):
        read_record((3).to_bytes(8, "little") + b"\0" * 48)
    with pytest.raises(ValueError, match="shorter"):
        read_record(b"\1\2")
    arrivals, services, waits = read_record((0).to_bytes(8, "little"))
    assert len(arrivals) == len(services) == len(waits) == 0


# --- percentiles --------------------------------------------------------------------------


def test_percentiles_are_exact_nearest_ranks() -> None:
    ordered = [float(i) for i in range(1, 1001)]
    assert nearest_rank(ordered, 0.5) == 500.0
    assert nearest_rank(ordered, 0.99) == 990.0
    assert nearest_rank(ordered, 0.999) == 999.0
    assert nearest_rank([7.0], 0.999) == 7.0
    tails = tails_of([s / 1000.0 for s in reversed(ordered)])  # seconds in, ms out
    assert tails == Tails(1000, 500.0, 990.0, 999.0, 1000.0)
    assert tails_of([]) == NO_TAILS


def test_a_record_splits_by_arrival_time() -> None:
    record = Record([1.0, 2.0, 3.0, 4.0], [0.010, 0.020, 0.030, 0.040], [0.0, 0.0, 0.005, 0.0])
    assert record.between(2.0, 4.0) == [0.020, 0.030]
    assert record.whole().max_ms == pytest.approx(40.0)
    assert record.whole_from_socket().p999_ms == pytest.approx(40.0)
    assert record.whole_from_socket().p50_ms == pytest.approx(20.0)


def test_a_record_without_kernel_stamps_has_no_from_socket_tails() -> None:
    record = Record([1.0, 2.0], [0.010, 0.020], [0.0, math.nan])
    assert record.whole_from_socket() == NO_TAILS
    assert record.whole().count == 2


def test_the_tools_percentiles_are_read_from_their_summaries() -> None:
    summary = {
        "aggregated": {
            "num_requests": 12,
            "percentiles": {"50": 10.4, "99": 11.9, "99.9": 14.7, "100": 20.0},
        }
    }
    assert loadhopper_tails(json.dumps(summary)) == Tails(12, 10.4, 11.9, 14.7, 20.0)
    assert loadhopper_tails(json.dumps({"aggregated": {}})) == NO_TAILS
    csv_text = (
        "Type,Name,Request Count,50%,99%,99.9%,100%\n"
        "GET,/,7,10,12,15,18\n"
        ",Aggregated,7,10,12,15,N/A\n"
    )
    assert locust_tails(csv_text) == Tails(7, 10.0, 12.0, 15.0, None)


# --- the lines ----------------------------------------------------------------------------


def test_the_case2_lines_set_the_tools_tail_beside_the_targets_own() -> None:
    row = Case2Row(
        tool=Tool.LOADHOPPER,
        status=RunStatus.OK,
        note="",
        offered_rate=2850.0,
        achieved_rate=2840.0,
        tool_tails=Tails(1000, 10.4, 12.5, 19.0, 30.0),
        target_tails=Tails(1000, 10.1, 10.9, 11.5, 12.0),
        target_from_socket=Tails(1000, 10.2, 11.4, 14.0, 15.0),
        target_ramp=Tails(200, 10.1, 11.0, 11.6, 12.0),
        target_steady=Tails(500, 10.1, 10.8, 11.2, 11.9),
    )
    result = Case2Result(10_000, 60, 2000.0, 10.0, None, None, (row,), 70.0)
    text = "\n".join(case2_lines(result))
    assert "ramp 2000 users/s" in text
    assert "tool p50 10.4 p99 12.5 p99.9 19.0 max 30.0 ms" in text
    assert "target's own service p50 10.1 p99 10.9 p99.9 11.5 max 12.0 ms" in text
    assert "p99 gap +1.6 ms (goal <= 2), p99.9 gap +7.5 ms (goal <= 10)" in text
    assert "from its socket (its wait to read included) p50 10.2 p99 11.4 p99.9 14.0" in text
    assert "p99 gap +1.1 ms (goal <= 2), p99.9 gap +5.0 ms (goal <= 10)" in text
    assert "ramp p50 10.1 p99 11.0 p99.9 11.6 max 12.0 ms (200 requests)" in text
