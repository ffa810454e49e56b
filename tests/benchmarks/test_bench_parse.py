"""The benchmark's parsers, fed the exact text each tool writes (captured from real runs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _parse import (
    ParseError,
    ToolSummary,
    parse_loadhopper_json,
    parse_locust_json,
    parse_locust_stats_csv,
    parse_stub_status,
    parse_wrk_output,
)

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:33947/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   317.69us    0.94ms   9.49ms   92.21%
    Req/Sec    51.77k    10.51k   60.67k    80.00%
  51491 requests in 1.00s, 3.24MB read
Requests/sec:  51389.04
Transfer/sec:      3.23MB
"""

WRK_WITH_ERRORS = """Running 2s test @ http://127.0.0.1:8080/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms    0.50ms   8.00ms   90.00%
    Req/Sec    10.00k     1.00k   12.00k    80.00%
  20000 requests in 2.00s, 1.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 50
Requests/sec:  10000.00
Transfer/sec:      0.50MB
"""

LOCUST_CSV = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n"
    "GET,/,20,0,1,2.038202500011721,0.4295270000511664,17.049846999952933,2.0,"
    "21.267693905325565,0.0,1,1,2,2,4,17,17,17,17,17,17\n"
    ",Aggregated,40,3,11,12.5,0.23,17.04,2.0,42.53,0.0,0,1,1,1,2,4,17,17,17,17,17\n"
)

LOCUST_JSON_ENTRY = {
    "name": "/",
    "method": "GET",
    "last_request_timestamp": 1795465283.6296165,
    "start_time": 1795465281.822053,
    "num_requests": 36,
    "num_none_requests": 0,
    "num_failures": 2,
    "total_response_time": 129.9673750004331,
    "max_response_time": 62.235434000058376,
    "min_response_time": 0.40775499996925646,
    "total_content_length": 72,
    "response_times": {"17": 1, "1": 19},
    "num_reqs_per_sec": {"1795465281": 4},
    "num_fail_per_sec": {},
}


def test_wrk_totals_and_average_latency() -> None:
    summary = parse_wrk_output(WRK_OUTPUT)
    assert summary.requests == 51491
    assert summary.failures == 0
    assert summary.median_ms is None
    assert summary.avg_ms == pytest.approx(0.31769)


def test_wrk_counts_socket_errors_and_bad_statuses_as_failures() -> None:
    summary = parse_wrk_output(WRK_WITH_ERRORS)
    assert summary == ToolSummary(
        requests=20000, failures=1 + 2 + 3 + 4 + 50, median_ms=None, avg_ms=1.2
    )


def test_wrk_without_a_total_line_is_an_error() -> None:
    with pytest.raises(ParseError, match="requests in"):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_locust_csv_reads_the_aggregated_row() -> None:
    summary = parse_locust_stats_csv(LOCUST_CSV)
    assert summary == ToolSummary(requests=40, failures=3, median_ms=11.0, avg_ms=12.5)


def test_locust_csv_without_aggregated_row_is_an_error() -> None:
    header_only = LOCUST_CSV.splitlines()[0] + "\n"
    with pytest.raises(ParseError, match="Aggregated"):
        parse_locust_stats_csv(header_only)


def test_locust_csv_na_median_reads_as_none() -> None:
    text = LOCUST_CSV.replace(",Aggregated,40,3,11,12.5,", ",Aggregated,0,0,N/A,N/A,")
    summary = parse_locust_stats_csv(text)
    assert summary.requests == 0
    assert summary.median_ms is None
    assert summary.avg_ms is None


def test_locust_json_sums_every_endpoint() -> None:
    other = dict(LOCUST_JSON_ENTRY, name="/x", num_requests=10, num_failures=1)
    summary = parse_locust_json(json.dumps([LOCUST_JSON_ENTRY, other]))
    assert summary == ToolSummary(requests=46, failures=3, median_ms=None, avg_ms=None)


def test_locust_json_must_be_a_list_of_entries() -> None:
    with pytest.raises(ParseError):
        parse_locust_json(json.dumps({"num_requests": 3}))
    with pytest.raises(ParseError):
        parse_locust_json(json.dumps([{"name": "/"}]))
    with pytest.raises(ParseError):
        parse_locust_json("not json")


def _loadhopper_summary(**aggregated: object) -> str:
    row = {
        "method": "",
        "name": "Aggregated",
        "num_requests": 1000,
        "num_failures": 4,
        "median_response_time": 10.07,
        "avg_response_time": 10.3,
    }
    row.update(aggregated)
    return json.dumps({"schema": "loadhopper.summary/1", "aggregated": row, "rows": [row]})


def test_loadhopper_json_reads_the_aggregated_row() -> None:
    summary = parse_loadhopper_json(_loadhopper_summary())
    assert summary == ToolSummary(requests=1000, failures=4, median_ms=10.07, avg_ms=10.3)


def test_loadhopper_json_null_latencies_read_as_none() -> None:
    text = _loadhopper_summary(median_response_time=None, avg_response_time=None)
    summary = parse_loadhopper_json(text)
    assert summary.median_ms is None
    assert summary.avg_ms is None


def test_loadhopper_json_accepts_a_locust_style_list() -> None:
    summary = parse_loadhopper_json(json.dumps([LOCUST_JSON_ENTRY]))
    assert summary.requests == 36
    assert summary.failures == 2


def test_loadhopper_json_without_totals_names_its_keys() -> None:
    with pytest.raises(ParseError, match=r"\['rows', 'schema'\]"):
        parse_loadhopper_json(json.dumps({"schema": "x", "rows": []}))


def test_stub_status_reads_the_request_counter() -> None:
    page = (
        "Active connections: 17 \n"
        "server accepts handled requests\n"
        " 120 120 790999 \n"
        "Reading: 0 Writing: 1 Waiting: 16 \n"
    )
    assert parse_stub_status(page) == 790999


def test_stub_status_rejects_other_pages() -> None:
    with pytest.raises(ParseError):
        parse_stub_status("<html>404</html>")
