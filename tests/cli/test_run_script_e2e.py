"""Scripts that use loadhopper as a library, Locust's way, run in a real subprocess.

Either as `python script.py` with `from loadhopper import ...`, or as `loadhopper run-script
script.py` with `from locust import ...`, against a loopback server that counts what it
received. Every run is bounded by a timeout on the subprocess.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TIMEOUT = 60  # a hung script fails the test instead of hanging the suite
SHIM = "loadhopper.runtime._gevent"  # the gevent shim, until loadhopper exports it


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)
    return env


def _run(cwd: Path, *args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "loadhopper", *args] if module else [sys.executable, *args]
    return subprocess.run(
        command,
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


LOCUST_SCRIPT = """
import sys
import gevent
from locust import HttpUser, task, constant, events
from locust.env import Environment
from locust.stats import stats_printer, stats_history

class Quick(HttpUser):
    host = sys.argv[1]
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")

env = Environment(user_classes=[Quick], events=events)
runner = env.create_local_runner()
env.events.init.fire(environment=env, runner=runner, web_ui=None)
gevent.spawn(stats_printer(env.stats))
gevent.spawn(stats_history, env.runner)
runner.start(4, spawn_rate=100)
gevent.spawn_later(2.5, runner.quit)
runner.greenlet.join()
print("STATE", runner.state)
print("REQUESTS", env.runner.stats.total.num_requests)
print("FAILURES", env.stats.total.num_failures)
print("HISTORY", len(runner.history), max(p.user_count for p in runner.history))
print("DEAD", runner.greenlet.dead)
"""


_MARKS = ("STATE", "REQUESTS", "FAILURES", "HISTORY", "DEAD", "MID", "AFTER_STOP", "TOTAL")


def _counts(out: str) -> dict[str, str]:
    """The script's `MARK value` lines (the stats tables are printed around them)."""
    return {
        line.split(" ", 1)[0]: line.split(" ", 1)[1]
        for line in out.splitlines()
        if line.split(" ", 1)[0] in _MARKS
    }


def test_run_script_runs_a_locust_api_script_to_a_clean_end(tmp_path: Path, target: Any) -> None:
    script = _write(tmp_path, "lib_script.py", LOCUST_SCRIPT)
    started = time.monotonic()
    result = _run(tmp_path, "run-script", str(script), target.url)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < TIMEOUT
    values = _counts(result.stdout)
    assert values["STATE"] == "stopped" and values["DEAD"] == "True"
    requests = int(values["REQUESTS"])
    assert requests > 0 and values["FAILURES"] == "0"
    # Every request counted reached the target, and every one that reached it was counted.
    assert target.settled()[("GET", "/")] == requests
    history_points, history_users = values["HISTORY"].split()
    assert int(history_points) >= 2 and int(history_users) == 4
    # The printer's table, as the CLI prints it every 2 s.
    assert "Aggregated" in result.stdout and "req/s (10s)" in result.stdout
    assert "GET      /" in result.stdout


LOADHOPPER_SCRIPT = f"""
import sys
import time
from loadhopper import HttpUser, task, constant, events
from loadhopper.runtime import Environment
from loadhopper.runtime._script_stats import stats_printer
import {SHIM} as gevent

class Quick(HttpUser):
    host = sys.argv[1]
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")

env = Environment(user_classes=[Quick], events=events)
runner = env.create_local_runner()
gevent.spawn(stats_printer(env.stats))
runner.start(3, spawn_rate=100)
time.sleep(1.5)                       # the users run meanwhile
print("MID", runner.state, runner.user_count, env.stats.total.num_requests > 0)
runner.stop()                          # returns once the test has stopped
first = env.stats.total.num_requests
print("AFTER_STOP", runner.state, first)
runner.start(2, spawn_rate=100)        # a second test after the stop
gevent.sleep(1.0)
runner.quit()
runner.greenlet.join()
print("STATE", runner.state)
print("REQUESTS", env.stats.total.num_requests)
print("TOTAL", first + env.stats.total.num_requests)
"""


def test_a_plain_python_script_with_loadhopper_imports(tmp_path: Path, target: Any) -> None:
    script = _write(tmp_path, "plain_lib_script.py", LOADHOPPER_SCRIPT)
    result = _run(tmp_path, str(script), target.url, module=False)
    assert result.returncode == 0, result.stderr
    lines = _counts(result.stdout)
    assert lines["MID"] == "running 3 True"
    state, first = lines["AFTER_STOP"].split()
    assert state == "stopped" and int(first) > 0
    assert lines["STATE"] == "stopped"
    # Each test's stats start afresh; the target saw both tests' requests, no more.
    assert int(lines["REQUESTS"]) > 0
    assert target.settled()[("GET", "/")] == int(lines["TOTAL"])
    assert "Aggregated" in result.stdout


# Locust's examples/use_as_lib.py in our words, the same calls in the same order: a web UI,
# a stats printer and history greenlet, a start, a quit spawned for later, a join, and the
# web UI's stop. Only the host (loopback), the UI's port (a free one) and the run length
# (3 s, not 60) differ from the example. The same file runs under Locust too.
USE_AS_LIB = """
import gevent
from locust import HttpUser, task, between
from locust.env import Environment
from locust.stats import stats_printer, stats_history
from locust.log import setup_logging

setup_logging("INFO", None)


class User(HttpUser):
    wait_time = between(0.1, 0.3)
    host = "TARGET"

    @task
    def my_task(self):
        self.client.get("/")

    @task
    def task_404(self):
        self.client.get("/non-existing-path")


env = Environment(user_classes=[User])
env.create_local_runner()
env.create_web_ui("127.0.0.1", 0)
gevent.spawn(stats_printer(env.stats))
gevent.spawn(stats_history, env.runner)
env.runner.start(2, spawn_rate=10)
gevent.spawn_later(3, lambda: env.runner.quit())
env.runner.greenlet.join()
env.web_ui.stop()
print("REQUESTS", env.runner.stats.total.num_requests)
"""


def _requests(out: str) -> int:
    lines = [line for line in out.splitlines() if line.startswith("REQUESTS ")]
    return int(lines[-1].split()[1])


def test_locusts_use_as_lib_example_runs_with_loadhopper_as_with_locust(
    tmp_path: Path, target: Any
) -> None:
    script = _write(tmp_path, "use_as_lib.py", USE_AS_LIB.replace("TARGET", target.url))
    started = time.monotonic()
    ours = _run(tmp_path, "run-script", str(script))
    assert ours.returncode == 0, ours.stderr
    assert "Traceback" not in ours.stderr
    assert time.monotonic() - started < TIMEOUT
    assert "web UI on http://127.0.0.1:" in ours.stderr
    assert "Aggregated" in ours.stdout
    served = target.settled()
    our_count = _requests(ours.stdout)
    assert our_count == served[("GET", "/")] + served[("GET", "/non-existing-path")]
    # The same file under Locust itself (python script.py: real locust, real gevent).
    theirs = _run(tmp_path, str(script), module=False)
    assert theirs.returncode == 0, theirs.stderr
    their_count = _requests(theirs.stdout)
    assert their_count > 0
    # Same users, waits and duration: at least a third of Locust's count (a factor no slow
    # machine breaks), and at most what the file allows: 2 users, a wait of at least 0.1 s,
    # quit after 3 s.
    assert their_count / 3 <= our_count <= 2 * 31


def test_run_script_passes_argv_and_the_exit_code(tmp_path: Path) -> None:
    script = _write(
        tmp_path,
        "argv_script.py",
        "import sys\nprint(__name__, sys.argv[1:])\nsys.exit(int(sys.argv[1]))\n",
    )
    result = _run(tmp_path, "run-script", str(script), "3", "--flag")
    assert result.returncode == 3
    assert result.stdout.strip() == "__main__ ['3', '--flag']"


def test_a_script_that_raises_gets_its_traceback_and_exit_1(tmp_path: Path) -> None:
    script = _write(
        tmp_path, "raising_script.py", "x = 1\n\ndef f():\n    raise KeyError('nope')\n\nf()\n"
    )
    result = _run(tmp_path, "run-script", str(script))
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raising_script.py", line 6' in result.stderr
    assert "KeyError: 'nope'" in result.stderr
    assert "runpy" not in result.stderr  # the script's frames, not the machinery's


def test_a_missing_script_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "run-script", "no_such_script.py")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "no_such_script.py does not exist" in result.stderr
    result = _run(tmp_path, "run-script")
    assert result.returncode == 2 and "usage: loadhopper run-script" in result.stderr


PERCENTILES_LOCUSTFILE = """
import locust.stats
from locust import HttpUser, task, constant

locust.stats.PERCENTILES_TO_REPORT = [0.25, 0.5, 0.95]

class Quick(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
"""


def test_percentiles_to_report_set_in_a_locustfile_are_the_csv_columns(
    tmp_path: Path, target: Any
) -> None:
    _write(tmp_path, "locustfile.py", PERCENTILES_LOCUSTFILE)
    result = _run(
        tmp_path,
        "-f",
        "locustfile.py",
        "--headless",
        "-u",
        "2",
        "-r",
        "100",
        "-t",
        "2s",
        "-H",
        target.url,
        "--csv",
        "out",
    )
    assert result.returncode == 0, result.stderr
    with (tmp_path / "out_stats.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    percentile_columns = [name for name in header if name.endswith("%")]
    assert percentile_columns == ["25%", "50%", "95%"]


def test_a_bad_percentiles_to_report_fails_the_load_naming_the_line(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "locustfile.py",
        PERCENTILES_LOCUSTFILE.replace("[0.25, 0.5, 0.95]", "[50, 95]"),
    )
    result = _run(tmp_path, "-f", "locustfile.py", "--headless", "-t", "1s")
    assert result.returncode == 1
    assert "line 5" in result.stderr and "fractions in (0, 1]" in result.stderr


MAIN_LOCUSTFILE = """
from locust import HttpUser, task, constant
from locust.main import main


class Quick(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")


if __name__ == "__main__":
    main()
"""


def test_a_locustfile_calling_locust_main_runs_the_command_line(
    tmp_path: Path, target: Any
) -> None:
    script = _write(tmp_path, "main_locustfile.py", MAIN_LOCUSTFILE)
    args = ("-f", str(script), "--headless", "-u", "2", "-r", "100", "-t", "1s", "-H", target.url)
    result = _run(tmp_path, "run-script", str(script), *args, "--csv", "main_out")
    assert result.returncode == 0, result.stderr
    with (tmp_path / "main_out_stats.csv").open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) == target.settled()[("GET", "/")]
