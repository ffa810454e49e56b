"""Case 3 (realistic task code): the locustfile copy, the cats stub's routes, the arithmetic.

The stub is tested twice: its `answer` directly (every route and status), and as the real
process the benchmark starts, over loopback with http.client. No load here: the result rows
are built by hand, as a run would fill them.
"""

from __future__ import annotations

import ast
import http.client
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case3 import (
    DEMO_LOCUSTFILE,
    Case3Result,
    Case3Row,
    RouteCount,
    case3_lines,
    case3_record,
    cats_stub,
    mix_difference,
    parse_route_counts,
    realistic_locustfile,
    write_realistic_locustfile,
)
from _cats_stub import CatsStub
from _tool_run import RunStatus
from _tools import Tool
from run import parse_options

_FORM = "application/x-www-form-urlencoded"


# --- the locustfile ------------------------------------------------------------------------


def test_the_copy_differs_from_the_demo_only_in_its_wait(tmp_path: Path) -> None:
    original = DEMO_LOCUSTFILE.read_text().splitlines()
    copy = write_realistic_locustfile(tmp_path).read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, copy, strict=True) if a != b]
    assert changed == [
        (
            "from locust import HttpUser, SequentialTaskSet, between, task",
            "from locust import HttpUser, SequentialTaskSet, constant, task",
        ),
        ("    wait_time = between(2, 5)", "    wait_time = constant(0)"),
    ]
    ast.parse("\n".join(copy))  # still Python


def test_a_demo_without_the_expected_wait_is_refused_with_a_reason() -> None:
    source = DEMO_LOCUSTFILE.read_text().replace("between(2, 5)", "between(1, 3)")
    with pytest.raises(ValueError, match="wait_time = between"):
        realistic_locustfile(source)


# --- the stub, without sockets ---------------------------------------------------------------


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _header(response: bytes, name: bytes) -> bytes | None:
    head = response.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _body(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


def _form(name: str = "Tom", age: object = 3) -> bytes:
    return urlencode({"name": name, "age": age}).encode()


def test_the_stub_walks_the_locustfiles_round_with_the_sites_codes() -> None:
    stub = CatsStub()
    assert _status(stub.answer(b"GET", b"/")) == 200
    created = stub.answer(b"POST", b"/create", _FORM.encode(), _form())
    assert _status(created) == 200
    cat_id = _body(created)
    assert cat_id.isdigit()
    update = stub.answer(b"POST", b"/%s/update" % cat_id, _FORM.encode(), _form("Kit", 4))
    assert (_status(update), _header(update, b"location")) == (303, b"/" + cat_id)
    assert _status(stub.answer(b"GET", b"/" + cat_id)) == 200
    delete = stub.answer(b"GET", b"/%s/delete" % cat_id)
    assert (_status(delete), _header(delete, b"location")) == (303, b"/")
    # Gone: the site answers 404 for a deleted cat, on every route.
    assert _status(stub.answer(b"GET", b"/" + cat_id)) == 404
    assert _status(stub.answer(b"GET", b"/%s/delete" % cat_id)) == 404
    assert _status(stub.answer(b"POST", b"/%s/update" % cat_id, _FORM.encode(), _form())) == 404
    assert stub.total == 8


def test_the_stub_refuses_bad_forms_unknown_pages_and_wrong_methods() -> None:
    stub = CatsStub()
    form = _FORM.encode()
    assert _status(stub.answer(b"POST", b"/create", form, b"name=Tom")) == 400
    assert _status(stub.answer(b"POST", b"/create", form, _form(age=101))) == 400
    assert _status(stub.answer(b"POST", b"/create", form, _form(age="x"))) == 400
    assert _status(stub.answer(b"POST", b"/create", form, _form(name=" "))) == 400
    assert _status(stub.answer(b"POST", b"/create", b"text/plain", _form())) == 400
    assert _status(stub.answer(b"GET", b"/random")) == 404  # no cats yet
    cat_id = _body(stub.answer(b"POST", b"/create", form, _form(age=0)))
    assert _body(stub.answer(b"GET", b"/random")) == cat_id
    assert _status(stub.answer(b"POST", b"/%s/update" % cat_id, form, b"age=3")) == 400
    assert _status(stub.answer(b"GET", b"/%s/update" % cat_id)) == 200  # the filled form
    assert _status(stub.answer(b"GET", b"/create")) == 200  # the empty form
    assert _status(stub.answer(b"GET", b"/no/such/page")) == 404
    assert _status(stub.answer(b"GET", b"/x1")) == 404
    not_allowed = stub.answer(b"POST", b"/")
    assert (_status(not_allowed), _header(not_allowed, b"allow")) == (405, b"GET")
    assert _status(stub.answer(b"POST", b"/%s/delete" % cat_id)) == 405
    closing = stub.answer(b"GET", b"/", keep_alive=False)
    assert _header(closing, b"connection") == b"close"


# --- the stub as the benchmark runs it ---------------------------------------------------


def test_the_stub_process_answers_every_route_over_loopback(tmp_path: Path) -> None:
    with cats_stub(tmp_path, None) as target:
        assert target.request_count() == 0  # the baseline is there before any load
        port = int(target.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:

            def call(method: str, path: str, body: bytes | None = None) -> tuple[int, str, bytes]:
                headers = {"Content-Type": _FORM} if body is not None else {}
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.getheader("Location") or "", response.read()

            status, _, page = call("GET", "/")
            assert status == 200 and b"Cats" in page
            status, _, cat_id = call("POST", "/create", _form())
            assert status == 200 and cat_id.isdigit()
            path = "/" + cat_id.decode()
            assert call("POST", path + "/update", _form("Kit", 9))[:2] == (303, path)
            assert call("GET", path)[0] == 200
            assert call("GET", path + "/delete")[:2] == (303, "/")
            assert call("GET", path)[0] == 404
        finally:
            conn.close()
        # The count the stub prints (every 0.25 s) reaches the harness.
        for _ in range(40):
            if target.request_count() == 6:
                break
            time.sleep(0.05)
        assert target.request_count() == 6


# --- the arithmetic and the lines ---------------------------------------------------------


def _routes(index: int, create: int, update: int, delete: int) -> tuple[RouteCount, ...]:
    return (
        RouteCount("GET", "/", index, 0),
        RouteCount("GET", "/[id]/delete", delete, 0),
        RouteCount("POST", "/[id]/update", update, 0),
        RouteCount("POST", "/create", create, 0),
    )


def _row(tool: Tool, requests: int, cpu: float, failures: int = 0, steady: float = 0.0) -> Case3Row:
    per = requests // 4
    return Case3Row(
        tool,
        RunStatus.OK,
        "",
        requests=requests,
        failures=failures,
        target_requests=requests * 3 // 2,
        wall_seconds=15.5,
        cpu_seconds=cpu,
        requests_per_cpu_second=requests / cpu,
        steady_per_cpu_second=steady or None,
        wait_share=0.02,
        routes=_routes(per, per, per, requests - 3 * per),
    )


def _result(*rows: Case3Row) -> Case3Result:
    return Case3Result(16, 15, "the demo locustfile with constant(0)", 0, 1, rows, 40.0)


def test_parse_route_counts_reads_both_tools_json() -> None:
    loadhopper = {
        "schema": "loadhopper.summary/1",
        "rows": [
            {"method": "POST", "name": "/create", "num_requests": 5, "num_failures": 1},
            {"method": "GET", "name": "/", "num_requests": 6, "num_failures": 0},
        ],
    }
    locust = [{"method": "GET", "name": "/", "num_requests": 7, "num_failures": 0, "x": 1}]
    assert parse_route_counts(json.dumps(loadhopper)) == (
        RouteCount("GET", "/", 6, 0),
        RouteCount("POST", "/create", 5, 1),
    )
    assert parse_route_counts(json.dumps(locust)) == (RouteCount("GET", "/", 7, 0),)
    with pytest.raises(ValueError, match="lacks method"):
        parse_route_counts(json.dumps([{"name": "/"}]))
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_route_counts("{")


def test_mix_difference_is_the_largest_share_gap() -> None:
    even = _routes(25, 25, 25, 25)
    assert mix_difference(even, _routes(250, 250, 250, 250)) == 0.0
    # 30/100 against 25/100 on "/" (and 20 against 25 on delete).
    assert mix_difference(even, _routes(30, 25, 25, 20)) == pytest.approx(0.05)
    # A route only one side has counts at its full share.
    assert mix_difference(even, even[:1]) == pytest.approx(0.75)
    assert mix_difference(even, ()) is None


def test_the_ratio_and_the_line_with_clean_runs() -> None:
    result = _result(
        _row(Tool.LOADHOPPER, 120_000, 12.0, steady=15_000.0),
        _row(Tool.LOCUST_HTTP, 12_000, 12.0, steady=1_500.0),
    )
    assert result.ratio() == pytest.approx(10.0)
    assert result.steady_ratio() == pytest.approx(10.0)
    lines = case3_lines(result)
    assert lines[-1] == (
        "case3 realistic: loadhopper 10,000 req/CPU-s vs Locust HttpUser 1,000 req/CPU-s: "
        "ratio 10.00x (steady 10.00x); 0 failures in both; route mix within 0.00 points"
    )
    assert "case3 routes loadhopper: GET / 30,000 (25.0 %); GET /[id]/delete 30,000" in "\n".join(
        lines
    )
    record = case3_record(result)
    assert record["ratio_loadhopper_vs_locust_http"] == pytest.approx(10.0)
    json.dumps(record)  # JSON-ready


def test_the_line_says_when_either_tool_had_failures() -> None:
    result = _result(
        _row(Tool.LOADHOPPER, 1_000, 1.0),
        _row(Tool.LOCUST_HTTP, 100, 1.0, failures=3),
    )
    line = case3_lines(result)[-1]
    assert "ratio 10.00x;" in line
    assert "FAILURES: loadhopper 0, Locust 3 (both must be 0" in line


def test_no_ratio_without_both_tools_ok() -> None:
    failed = Case3Row(Tool.LOADHOPPER, RunStatus.FAILED, "exit code 70; no requests")
    result = _result(failed, _row(Tool.LOCUST_HTTP, 100, 1.0))
    assert result.ratio() is None and result.mix_difference() is None
    lines = case3_lines(result)
    assert "case3 loadhopper failed: exit code 70; no requests" in lines
    assert lines[-1] == "case3 realistic: needs both loadhopper and locust-http with numbers"


def test_case_3_flags() -> None:
    assert parse_options(["--case", "3"]).cases == (3,)
    assert parse_options(["--case", "realistic"]).cases == (3,)
    options = parse_options(["--case", "3", "--case3-users", "8", "--case3-duration", "5"])
    assert (options.case3_users, options.case3_duration) == (8, 5)
    defaults = parse_options([])
    assert 3 not in defaults.cases  # "all" is kept as it was
    assert (defaults.case3_users, defaults.case3_duration) == (16, 15)
