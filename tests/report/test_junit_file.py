"""The JUnit XML file: its shape as CI readers expect it, read back by two parsers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
from report_snapshots import EXCEPTION, FAILURE, make_row, make_snapshot

from loadhopper.report import RunInfo
from loadhopper.report._junit import render_junit
from loadhopper.stats import FailureSnapshot, ThresholdResult

PASSED = ThresholdResult("p95<500", "Aggregated", "p95", "<", 500.0, 212.4, True, unit="ms")
FAILED = ThresholdResult(
    "GET /:p99<100",
    "GET /",
    "p99",
    "<",
    100.0,
    212.4,
    False,
    first_breach=1_700_000_002.0,
    aborted=True,
    unit="ms",
)
NO_DATA = ThresholdResult(
    "/never:p95<100",
    "/never",
    "p95",
    "<",
    100.0,
    None,
    False,
    unit="ms",
    reason="no request named '/never' ran",
)


def _run(*thresholds: ThresholdResult) -> RunInfo:
    return RunInfo(
        start_time=1_700_000_000.0,
        end_time=1_700_000_005.7,
        users=10,
        spawn_rate=2.5,
        run_time=5.0,
        host="http://127.0.0.1:8080",
        locustfile="locustfile.py",
        version="0.1.0",
        thresholds=thresholds,
    )


def _suite(text: str) -> ET.Element:
    root = ET.fromstring(text.encode())
    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite"
    return suite


def test_thresholds_are_the_test_cases() -> None:
    text = render_junit(make_snapshot(), _run(PASSED, FAILED, NO_DATA))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    suite = _suite(text)
    counts = {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")}
    assert counts == {"tests": "3", "failures": "1", "errors": "0", "skipped": "1", "time": "5.700"}
    assert suite.get("timestamp") == "2023-11-14T22:13:20"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["p95<500", "GET /:p99<100", "/never:p95<100"]
    assert list(cases[0]) == []
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "p99 on GET / was 212.4 ms, limit < 100 ms."
    assert "This breach stopped the run" in (failure.text or "")
    skipped = cases[2].find("skipped")
    assert skipped is not None
    assert "no request named '/never' ran" in (skipped.get("message") or "")


def test_properties_name_the_run() -> None:
    suite = _suite(render_junit(make_snapshot(), _run(PASSED)))
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["host"] == "http://127.0.0.1:8080"
    assert (properties["users"], properties["spawn_rate"], properties["run_time"]) == (
        "10",
        "2.5",
        "5",
    )
    assert properties["requests"] == "20"
    assert suite.get("hostname") == "http://127.0.0.1:8080"


def test_without_thresholds_each_row_fails_on_its_request_failures() -> None:
    other = FailureSnapshot("POST", "/[id]/update", "HTTPError: 500", 1, 1.0, 2.0)
    snapshot = make_snapshot(failures=(FAILURE, other), exceptions=(EXCEPTION,))
    suite = _suite(render_junit(snapshot, _run()))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    ok, failing, exceptions = suite.findall("testcase")
    assert (ok.get("name"), failing.get("name")) == ("GET /", "POST /[id]/update")
    assert list(ok) == []
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "2 of 10 requests failed (20.00%); most frequent: ConnectionRefusedError: refused (2x)"
    )
    assert failure.text == "2x ConnectionRefusedError: refused\n1x HTTPError: 500"
    error = exceptions.find("error")
    assert error is not None and "ValueError: no pk yet" in (error.text or "")


def test_a_clean_run_is_all_green() -> None:
    snapshot = make_snapshot((make_row("GET", "/"), make_row("GET", "/b")))
    suite = _suite(render_junit(snapshot, _run()))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")


def test_control_characters_and_markup_survive() -> None:
    nasty = FailureSnapshot("GET", "/", "bad \x00\x1b byte <&\"'>", 3, 1.0, 2.0)
    snapshot = make_snapshot((make_row("GET", "/", failures=3),), failures=(nasty,))
    suite = _suite(render_junit(snapshot, _run()))  # parses: nothing invalid was written
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "bad \ufffd\ufffd byte <&\"'>" in (failure.get("message") or "")


def test_junitparser_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    snapshot = make_snapshot(failures=(FAILURE,))
    path.write_text(render_junit(snapshot, _run(PASSED, FAILED, NO_DATA)), encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml) if isinstance(xml, junitparser.JUnitXml) else [xml]
    (suite,) = suites
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (3, 1, 0, 1)
    results = {case.name: [type(r).__name__ for r in case.result] for case in suite}
    assert results == {
        "p95<500": [],
        "GET /:p99<100": ["Failure"],
        "/never:p95<100": ["Skipped"],
    }
    failing = next(case for case in suite if case.name == "GET /:p99<100")
    assert failing.result[0].message == "p99 on GET / was 212.4 ms, limit < 100 ms."
    assert suite.properties() is not None
    assert {p.name: p.value for p in suite.properties()}["users"] == "10"
