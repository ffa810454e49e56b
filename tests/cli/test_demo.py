"""`loadhopper demo`: the whole demo as a real subprocess against the real cats site, plus the
pieces it is made of (the row check, the report folder, the flags) in process.

Every subprocess run is bounded: a short `-t` and a timeout on the subprocess itself.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.cli._demo import RowCheck, demo_main, report_folder, row_check
from loadhopper.stats import StatsCollector, StatsSnapshot

TIMEOUT = 60  # a hung demo fails the test instead of hanging the suite
SITE_LINE = re.compile(r"cats site on (?P<url>http://\S+) \(pid (?P<pid>\d+)\)")
CHECK_LINE = re.compile(
    r"cats site: (?P<rows>\d+) rows; the load created (?P<created>\d+) "
    r"and deleted (?P<deleted>\d+): consistent"
)
REPORT_FILES = [
    "demo_stats.csv",
    "demo_stats_history.csv",
    "demo_failures.csv",
    "demo_exceptions.csv",
    "demo.json",
    "demo.html",
]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)
    return env


def _demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "loadhopper", "demo", *args]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_site_gone(url: str, pid: int) -> None:
    # The demo reaped its child before exiting, so the pid no longer names any process.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with pytest.raises(ConnectionRefusedError), socket.socket() as sock:
        sock.connect((parts.hostname, parts.port))


def test_the_demo_runs_checks_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        _demo_command("-u", "10", "-t", "4s", "--out", str(out)),
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    site = SITE_LINE.search(done.stdout)
    assert site is not None, done.stdout
    assert "loading it with 10 users for 4 s (spawn rate 10/s)" in done.stdout
    assert "req/s (10s)" in done.stdout  # the live table
    assert "Response time percentiles" in done.stdout  # the final summary

    stats = _read_csv(out / "demo_stats.csv")
    assert list(stats[0])[:4] == ["Type", "Name", "Request Count", "Failure Count"]
    by_name = {(row["Type"], row["Name"]): row for row in stats}
    assert by_name[("", "Aggregated")]["Failure Count"] == "0"
    created = int(by_name[("POST", "/create")]["Request Count"])
    deleted_row = by_name.get(("GET", "/[id]/delete"))
    deleted = int(deleted_row["Request Count"]) if deleted_row else 0
    assert created > 0

    check = CHECK_LINE.search(done.stdout)
    assert check is not None, done.stdout
    assert int(check["created"]) == created
    assert int(check["deleted"]) == deleted
    assert int(check["rows"]) == created - deleted

    shown = ", ".join(REPORT_FILES)
    assert f"report folder: ./report/ ({shown})" in done.stdout
    assert sorted(path.name for path in out.iterdir()) == sorted(REPORT_FILES)
    history = _read_csv(out / "demo_stats_history.csv")
    assert list(history[0])[:4] == ["Timestamp", "User Count", "Type", "Name"]
    assert list(_read_csv(out / "demo_failures.csv")) == []
    summary = json.loads((out / "demo.json").read_text())
    assert summary["aggregated"]["num_requests"] == int(
        by_name[("", "Aggregated")]["Request Count"]
    )
    assert summary["run"]["users"] == 10
    assert summary["run"]["host"] == site["url"]
    assert "<html" in (out / "demo.html").read_text().lower()

    _assert_site_gone(site["url"], int(site["pid"]))


def _start_demo(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _demo_command(*args),
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _stop(process: subprocess.Popen[str], signum: signal.Signals) -> str:
    try:
        process.send_signal(signum)
        out, _ = process.communicate(timeout=TIMEOUT)
        return out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_ctrl_c_during_the_test_still_checks_reports_and_stops_the_site(tmp_path: Path) -> None:
    out = tmp_path / "report"
    process = _start_demo(tmp_path, "-u", "2", "-t", "60s", "--out", str(out))
    assert process.stdout is not None
    seen = [process.stdout.readline()]
    while seen[-1] and "req/s (10s)" not in seen[-1]:  # the first live table: the test runs
        seen.append(process.stdout.readline())
    site = SITE_LINE.search(seen[0])
    assert site is not None, seen
    rest = _stop(process, signal.SIGINT)
    assert process.returncode == 0, rest
    assert "Response time percentiles" in rest
    assert CHECK_LINE.search(rest) is not None, rest
    assert (out / "demo_stats.csv").exists()
    _assert_site_gone(site["url"], int(site["pid"]))


def test_sigterm_as_soon_as_the_site_runs_stops_it(tmp_path: Path) -> None:
    process = _start_demo(tmp_path, "-u", "2", "-t", "60s")
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the site listens
    site = SITE_LINE.search(line)
    assert site is not None, line
    _stop(process, signal.SIGTERM)
    # 130 when the signal landed before the test started (most likely: the locustfile is still
    # being imported), 0 when the test had just started and stopped gently with a summary.
    assert process.returncode in (0, 130)
    _assert_site_gone(site["url"], int(site["pid"]))
    if process.returncode == 130:  # nothing was written: no empty report folder is left
        assert list(tmp_path.iterdir()) == []


def test_a_bad_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo_main(["--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value"), [("-u", "0"), ("-r", "0"), ("-t", "soon"), ("-t", "0s")]
)
def test_a_bad_value_is_a_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo_main([flag, value]) == 2
    assert flag in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_demo_in_the_web_ui_serves_it_and_reports_on_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "report"
    port = _free_port()
    process = _start_demo(
        tmp_path, "--web", "--web-port", str(port), "-u", "2", "-t", "60s", "--out", str(out)
    )
    assert process.stdout is not None
    seen = [process.stdout.readline()]
    while seen[-1] and "web UI on" not in seen[-1]:
        seen.append(process.stdout.readline())
    site = SITE_LINE.search(seen[0])
    assert site is not None, seen
    assert f"http://127.0.0.1:{port}" in seen[-1]
    deadline = time.monotonic() + TIMEOUT
    status: dict[str, object] = {}
    while time.monotonic() < deadline:  # --autostart: the test runs without a click
        with urlopen(f"http://127.0.0.1:{port}/api/state", timeout=5) as answer:
            status = json.load(answer)["status"]
        if status["running"] and status["user_count"] == 2:
            break
        time.sleep(0.1)
    assert status["running"] and status["user_count"] == 2, status
    assert status["host"] == site["url"]  # aimed at the demo's own cats site
    with urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
        assert b"loadhopper" in page.read()
    rest = _stop(process, signal.SIGINT)
    assert process.returncode == 0, rest
    assert CHECK_LINE.search(rest) is not None, rest
    for name in ("demo_stats.csv", "demo.json", "demo.html"):
        assert (out / name).exists(), name
    _assert_site_gone(site["url"], int(site["pid"]))


def test_a_non_empty_out_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    assert demo_main(["--out", str(tmp_path)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


NOW = time.struct_time((2026, 1, 2, 3, 4, 5, 4, 2, 0))


def test_the_default_report_folder_is_new_each_time(tmp_path: Path) -> None:
    first = report_folder(None, tmp_path, NOW)
    (first / "demo.json").write_text("{}")
    second = report_folder(None, tmp_path, NOW)
    assert first.name == "loadhopper-demo-20260102-030405"
    assert second.name == "loadhopper-demo-20260102-030405-2"
    assert second.is_dir() and not any(second.iterdir())
    assert (first / "demo.json").read_text() == "{}"


def test_an_empty_or_new_out_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert report_folder(tmp_path / "empty", tmp_path, NOW) == tmp_path / "empty"
    assert report_folder(tmp_path / "a" / "b", tmp_path, NOW) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="Cannot create --out"):
        report_folder(tmp_path / "file", tmp_path, NOW)


def _snapshot(
    creates: int, create_failures: int, deletes: int, delete_failures: int
) -> StatsSnapshot:
    stats = StatsCollector(start_time=1000.0)
    for i in range(creates):
        stats.record("POST", "/create", 1.0, 2, "boom" if i < create_failures else None)
    for i in range(deletes):
        stats.record("GET", "/[id]/delete", 1.0, 2, "gone" if i < delete_failures else None)
    stats.record("POST", "/[id]/update", 1.0, 2, None)  # other rows do not count
    stats.record("GET", "/create", 1.0, 2, None)  # nor the same name with another method
    return stats.snapshot(1010.0)


def test_the_row_check_counts_successful_creates_and_deletes() -> None:
    snapshot = _snapshot(creates=20, create_failures=2, deletes=15, delete_failures=1)
    check = row_check(snapshot, before=5, after=9)
    assert check == RowCheck(before=5, created=18, deleted=14, after=9)
    assert check.expected == 9 and check.consistent
    assert check.describe() == (
        "cats site: 9 rows; it had 5 before, the load created 18 and deleted 14: consistent"
    )


def test_the_row_check_reports_a_mismatch() -> None:
    check = row_check(_snapshot(3, 0, 1, 0), before=0, after=3)
    assert not check.consistent
    assert check.describe().startswith(
        "cats site: 3 rows, but the load created 3 and deleted 1, so 2 were expected: a mismatch"
    )


def test_the_row_check_of_an_empty_run() -> None:
    check = row_check(StatsCollector(start_time=0.0).snapshot(1.0), before=0, after=0)
    assert check == RowCheck(0, 0, 0, 0)
    assert check.describe() == "cats site: 0 rows; the load created 0 and deleted 0: consistent"
    assert RowCheck(0, 1, 0, 1).describe().startswith("cats site: 1 row; ")
