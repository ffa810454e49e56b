"""Outputs survive real write errors: while the test runs, and when the files are written.

The errors are real and caused in child processes, so that nothing else is affected:

- EMFILE (too many open files, the first error a load test meets): the child lowers its
  own RLIMIT_NOFILE and opens /dev/null until the limit is reached. This works as root,
  where a read-only folder would stop nothing (root ignores file permissions).
- ENOTDIR: the folder an output goes to is replaced by a file, which stops root too.

Runs of the command are bounded by a short `-t` and a timeout on the subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_main_e2e import TIMEOUT, read_csv, run_cli, write

# Opens /dev/null until the process runs out of descriptors; `release()` gives them back.
FD_EXHAUSTION = """
import errno, os, resource

_held = []
_limits = []

def exhaust():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _limits.append((soft, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    while True:
        try:
            _held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            assert exc.errno == errno.EMFILE, exc
            return

def release():
    while _held:
        os.close(_held.pop())
    if _limits:
        resource.setrlimit(resource.RLIMIT_NOFILE, _limits.pop())
"""

# A user that needs no socket (it reports made-up requests), so that running out of
# descriptors stops only the writing of the outputs.
IDLE_USER = """
from locust import User, constant, events, task

class Idle(User):
    wait_time = constant(0.1)

    @task
    def work(self):
        events.request.fire(request_type="GET", name="/work", response_time=1.0,
                            response_length=0, exception=None, context={})
"""

EMFILE_DURING_THE_RUN = (
    FD_EXHAUSTION
    + IDLE_USER
    + """
windows = []

@events.init.add_listener
def _(environment, runner, **kwargs):
    def on_window(point):  # runs before the CSV writer's listener, which comes later
        windows.append(point)
        print(f"WINDOW {int(point.time)} {point.user_count} {point.total_requests}", flush=True)
        if len(windows) == 2:
            exhaust()  # this window's rows and the next one's cannot be written ...
        elif len(windows) == 4:
            release()  # ... until this one

    runner.window_listeners.append(on_window)

@events.quitting.add_listener
def _(environment, **kwargs):
    release()  # in case the test ended before the fourth window
"""
)


def test_history_rows_survive_emfile_during_the_run(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", EMFILE_DURING_THE_RUN)
    result = run_cli(
        tmp_path, "--headless", "-t", "5.5s", "--csv", "out", "--json-file", "out",
        "--only-summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    windows = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("WINDOW")]
    assert len(windows) >= 4, result.stdout  # the fds were exhausted and given back in the run
    failed = [line for line in result.stderr.splitlines() if "Could not write" in line]
    assert len(failed) == 1, result.stderr  # one line when it starts failing, not one a second
    assert "Too many open files" in failed[0] and "no history row is lost" in failed[0]
    assert result.stderr.count("Writing the CSV files works again") == 1
    history = read_csv(tmp_path / "out_stats_history.csv")
    # Every window's row once, in order, with the numbers of that window.
    assert [[r["Timestamp"], r["User Count"], r["Total Request Count"]] for r in history] == windows
    stats = read_csv(tmp_path / "out_stats.csv")
    summary = json.loads((tmp_path / "out.json").read_text())
    assert int(stats[-1]["Request Count"]) == summary["aggregated"]["num_requests"] > 0


FOLDER_REPLACED_AT_THE_END = (
    IDLE_USER
    + """
import shutil

@events.quitting.add_listener
def _(environment, **kwargs):
    shutil.rmtree("reports")
    open("reports", "w").close()  # the HTML report's folder is now a file
"""
)


def test_an_output_that_cannot_be_written_is_one_line_and_the_others_are_written(
    tmp_path: Path,
) -> None:
    write(tmp_path, "locustfile.py", FOLDER_REPLACED_AT_THE_END)
    (tmp_path / "reports").mkdir()
    result = run_cli(
        tmp_path, "--headless", "-t", "1.5s", "--csv", "out", "--json-file", "out",
        "--html", "reports/r.html", "--only-summary",
    )  # fmt: skip
    assert result.returncode == 2  # an output failed: exit code 2, as documented
    failed = [line for line in result.stderr.splitlines() if "Could not write" in line]
    assert len(failed) == 1 and failed[0].endswith(
        "Could not write reports/r.html: Not a directory."
    )
    assert "Traceback" not in result.stderr
    assert "Response time percentiles" in result.stdout  # the summary is still printed
    summary = json.loads((tmp_path / "out.json").read_text())
    requests = summary["aggregated"]["num_requests"]
    assert requests > 0
    assert int(read_csv(tmp_path / "out_stats.csv")[-1]["Request Count"]) == requests
    assert read_csv(tmp_path / "out_stats_history.csv")


# Outputs.finish in a child process whose descriptors are exhausted; its Retry waits with a
# fake sleep that gives the descriptors back at the wait given by sys.argv[2] (0: never).
FINISH_UNDER_EMFILE = (
    FD_EXHAUSTION
    + """
import logging, sys, time
from loadhopper.cli import Options
from loadhopper.cli._outputs import Outputs
from loadhopper.cli._retry import Retry
from loadhopper.report import RunInfo, render_html_report
from loadhopper.stats import DEFAULT_PERCENTILES, StatsCollector

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
collector = StatsCollector(1_700_000_000.0, DEFAULT_PERCENTILES, 500)
for ms in (1.0, 2.0, 3.0):
    collector.record("GET", "/", ms, 10, None)
collector.record("GET", "/fail", 4.0, 0, "HTTPError: 500")
point = collector.window_point(collector.close_window(1_700_000_001.0, 2).window_index)
snapshot = collector.snapshot(1_700_000_001.0)
run = RunInfo(1_700_000_000.0, 1_700_000_001.0, 2, 1.0, 1.0, "http://x", "locustfile.py", "0")
render_html_report(snapshot, run, locustfile_source=None)  # loads plotly.js before the limit

waits = []
heal_at = int(sys.argv[2])

def sleep(seconds):
    waits.append(seconds)
    if len(waits) == heal_at:
        release()

options = Options(csv_prefix="out", json_file="out", html_file="r.html")
outputs = Outputs(options, DEFAULT_PERCENTILES, retry=Retry(delays=(0.1, 0.3, 1.0), sleep=sleep))
outputs.start()
outputs.on_window(snapshot, point)
exhaust()
later = collector.window_point(collector.close_window(1_700_000_002.0, 3).window_index)
outputs.on_window(collector.snapshot(1_700_000_002.0), later)  # fails: its row waits
ok = outputs.finish(snapshot, run)
release()
print("RESULT", json.dumps({"ok": ok, "waits": waits}), flush=True)
"""
)


def _finish_under_emfile(cwd: Path, heal_at: int) -> tuple[dict[str, object], list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + FINISH_UNDER_EMFILE, "-", str(heal_at)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), result.stderr.splitlines()


OUTPUT_FILES = [
    "out_stats_history.csv", "out_stats.csv", "out_failures.csv", "out_exceptions.csv",
    "out.json", "r.html",
]  # fmt: skip


def test_a_transient_error_at_the_end_is_tried_again_and_every_file_written(
    tmp_path: Path,
) -> None:
    outcome, log = _finish_under_emfile(tmp_path, heal_at=2)
    assert outcome == {"ok": True, "waits": [0.1, 0.3]}
    # The first file waited twice for descriptors; the others were written at once.
    assert [line for line in log if line.startswith("WARNING")] == [
        "WARNING Could not write out_stats_history.csv (Too many open files); trying again "
        f"in {delay} s."
        for delay in ("0.1", "0.3")
    ]
    errors = [line for line in log if line.startswith("ERROR")]
    assert len(errors) == 1 and "(Too many open files); the CSV files will be tried" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUT_FILES)
    assert read_csv(tmp_path / "out_failures.csv")[0]["Name"] == "/fail"
    history = read_csv(tmp_path / "out_stats_history.csv")
    assert [row["User Count"] for row in history] == ["2", "3"]  # the waiting row too
    assert json.loads((tmp_path / "out.json").read_text())["aggregated"]["num_requests"] == 4
    assert (tmp_path / "r.html").read_text().rstrip().endswith("</html>")


def test_an_error_that_stays_is_one_line_per_file_after_the_last_try(tmp_path: Path) -> None:
    outcome, log = _finish_under_emfile(tmp_path, heal_at=0)
    assert outcome == {"ok": False, "waits": [0.1, 0.3, 1.0] * len(OUTPUT_FILES)}
    assert [line for line in log if line.startswith("ERROR")][1:] == [
        f"ERROR Could not write {name}: Too many open files (tried 4 times)."
        for name in OUTPUT_FILES
    ]  # after the line of the window that failed during the run
    # Nothing half-written: the files written before the run keep their last whole version.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUT_FILES[:4])
