"""`--junit FILE` end to end: the real CLI against a loopback server, the file read back.

Every run is bounded by `-t` and a timeout on the subprocess (`run_cli`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import junitparser
from test_main_e2e import FAILING, SIMPLE, TIMEOUT, run_cli, write


def _run(tmp_path: Path, target: Any, *args: str) -> tuple[int, str, ET.Element]:
    result = run_cli(
        tmp_path, "--headless", "-u", "2", "-r", "100", "-t", "1", "-H", target.url,
        "--only-summary", "--json-file", "out", "--junit", "reports/junit.xml", *args,
    )  # fmt: skip
    path = tmp_path / "reports" / "junit.xml"
    assert path.exists(), result.stderr
    return result.returncode, result.stderr, ET.parse(path).getroot()


def test_thresholds_become_test_cases_and_the_exit_code_stays_99(
    tmp_path: Path, target: Any
) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    (tmp_path / "reports").mkdir()
    code, stderr, root = _run(
        tmp_path, target, "--threshold", "p95<5s", "--threshold", "requests<1"
    )
    assert code == 99, stderr
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    passing, failing = suite.findall("testcase")
    assert (passing.get("name"), list(passing)) == ("p95<5s", [])
    failure = failing.find("failure")
    assert failing.get("name") == "requests<1" and failure is not None
    summary = json.loads((tmp_path / "out.json").read_text())
    requests = summary["thresholds"][1]["value"]
    assert failure.get("message") == f"requests on Aggregated was {requests:g}, limit < 1."
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["host"] == target.url and properties["users"] == "2"
    assert properties["requests"] == str(summary["aggregated"]["num_requests"])
    # A second reader, as CI plugins use.
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "reports" / "junit.xml"))
    (parsed,) = list(xml)
    assert (parsed.tests, parsed.failures) == (2, 1)


def test_without_thresholds_a_failing_row_fails(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", FAILING)
    (tmp_path / "reports").mkdir()
    code, stderr, root = _run(tmp_path, target)
    assert code == 1, stderr  # --exit-code-on-error's default, as without --junit
    (suite,) = root.findall("testsuite")
    (case,) = suite.findall("testcase")
    assert case.get("name") == "GET /fail"
    failure = case.find("failure")
    assert failure is not None
    summary = json.loads((tmp_path / "out.json").read_text())
    total = summary["aggregated"]
    assert total["num_failures"] > 0
    assert (failure.get("message") or "").startswith(
        f"{total['num_failures']} of {total['num_requests']} requests failed"
    )
    assert "most frequent: " in (failure.get("message") or "")


def test_an_interrupted_run_still_writes_the_file(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", "--headless", "-u", "2", "-r", "100", "-t", "60",
         "-H", target.url, "--only-summary", "--junit", "junit.xml", "--threshold", "p95<5s"],
        cwd=tmp_path, env={**env, "HOME": str(tmp_path)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT
        while sum(target.requests.values()) < 5:
            assert time.monotonic() < deadline, "the load never reached the target"
            assert process.poll() is None, process.communicate()[1]
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    (suite,) = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    (case,) = suite.findall("testcase")
    assert (case.get("name"), list(case)) == ("p95<5s", [])
    assert float(suite.get("time") or "0") < 60  # the interrupted run's own duration
