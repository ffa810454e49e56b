"""The `loadhopper` command end to end: a real subprocess against a real loopback server.

Every run is bounded: a short `-t`, and a timeout on the subprocess itself.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed_locustfile.py"
TIMEOUT = 60  # a hung run fails the test instead of hanging the suite

SIMPLE = """
from locust import HttpUser, task, constant

class Simple(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
"""

FAILING = """
from locust import HttpUser, task, constant

class Failing(HttpUser):
    wait_time = constant(0.05)

    @task
    def fail(self):
        self.client.get("/fail")
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(home)  # no ~/.locust.conf from the machine running the tests
    return env


def run_cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `loadhopper ARGS` in `cwd`, with no LOCUST_/LOADHOPPER_ variables but `env`'s."""
    return subprocess.run(
        [sys.executable, "-m", "loadhopper", *args],
        cwd=cwd,
        env={**_env(cwd), **(env or {})},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


LOCUST = Path(sys.executable).with_name("locust")


def run_locust(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Locust itself (`locust ARGS`) in `cwd`, in the same environment as `run_cli`."""
    return subprocess.run(
        [str(LOCUST), *args],
        cwd=cwd,
        env=_env(cwd),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_headless_run_writes_every_output(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "2", "-r", "10", "-t", "2.5s",
        "--csv", "out", "--json-file", "summary", "--csv-full-history", "--html", "r_{u}.html",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "req/s (10s)" in result.stdout  # the periodic table, every 2 s
    assert "req/s (run)" in result.stdout
    assert "Response time percentiles" in result.stdout
    stats = read_csv(tmp_path / "out_stats.csv")
    assert [(row["Type"], row["Name"]) for row in stats] == [("GET", "/"), ("", "Aggregated")]
    requests = int(stats[1]["Request Count"])
    assert requests > 0
    assert stats[1]["Failure Count"] == "0"
    assert target.requests[("GET", "/")] == requests  # every request counted, exactly once
    history = read_csv(tmp_path / "out_stats_history.csv")
    assert {row["Name"] for row in history} == {"/", "Aggregated"}  # --csv-full-history
    assert list(history[0])[:6] == [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ]
    assert read_csv(tmp_path / "out_failures.csv") == []
    assert read_csv(tmp_path / "out_exceptions.csv") == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["schema"] == "loadhopper.summary/1"
    assert summary["aggregated"]["num_requests"] == requests
    assert summary["run"]["users"] == 2
    assert summary["run"]["host"] == target.url
    assert summary["rows"][0]["percentiles"]["99"] is not None
    report = (tmp_path / "r_2.html").read_text()  # --html with Locust's {u} placeholder
    assert "loadhopper report" in report
    # The distribution chart's spectra, from the run's own histograms: Aggregated first.
    spectra = re.search(r'id="lh-chart-distribution" data-spectra="([^"]*)"', report)
    assert spectra is not None
    aggregated = json.loads(html.unescape(spectra.group(1)))[0]
    assert aggregated["label"] == "Aggregated" and aggregated["count"] == requests
    assert "class Simple(HttpUser)" in report  # the locustfile is embedded


def test_json_to_stdout_keeps_stdout_pure_and_resets_nothing(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", "-H", target.url, "-t", "1s", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout is one JSON document; tables went to stderr
    assert summary["rows"][0]["num_requests"] == summary["aggregated"]["num_requests"] > 0
    # Locust's --json zeroes the endpoint rows of the final table; here they keep their counts.
    get_line = next(line for line in result.stderr.splitlines() if line.startswith("GET "))
    assert int(get_line.split()[2]) == summary["aggregated"]["num_requests"]


def test_seed_locustfile_runs_without_failures(tmp_path: Path, target: Any) -> None:
    result = run_cli(
        tmp_path, "-f", str(SEED), "--headless", "-H", target.url, "-u", "4", "-r", "20",
        "-t", "3s", "--json-file", "seed", "--only-summary",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "seed.json").read_text())
    assert summary["aggregated"]["num_failures"] == 0
    assert summary["aggregated"]["num_requests"] >= 4  # each user's first task, at least
    assert summary["failures"] == [] and summary["exceptions"] == []
    assert "req/s (10s)" not in result.stdout  # --only-summary: no periodic table


def test_failures_give_exit_code_on_error(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", FAILING)
    result = run_cli(tmp_path, "--headless", "-H", target.url, "-t", "1s", "--csv", "f")
    assert result.returncode == 1
    assert "Error report" in result.stdout
    failures = read_csv(tmp_path / "f_failures.csv")
    assert failures[0]["Method"] == "GET" and failures[0]["Name"] == "/fail"
    assert int(failures[0]["Occurrences"]) > 0
    custom = run_cli(
        tmp_path, "--headless", "-H", target.url, "-t", "0.5s", "--exit-code-on-error", "3"
    )
    assert custom.returncode == 3


def test_listener_sets_process_exit_code(tmp_path: Path, target: Any) -> None:
    write(
        tmp_path,
        "locustfile.py",
        FAILING
        + """
from locust import events

@events.quitting.add_listener
def _(environment, **kwargs):
    environment.process_exit_code = 0 if environment.stats.total.num_failures else 7
""",
    )
    result = run_cli(tmp_path, "--headless", "-H", target.url, "-t", "0.5s")
    assert result.returncode == 0, result.stderr  # failures, but the listener decided


def test_internal_error_keeps_the_results_and_has_its_own_exit_code(
    tmp_path: Path, target: Any
) -> None:
    # A failure inside loadhopper's own machinery (here: the statistics window breaks after
    # two seconds of requests) is not a usage error: exit code 70, the traceback in the log,
    # and the requests made so far still reach every output.
    write(
        tmp_path,
        "locustfile.py",
        SIMPLE
        + """
from locust import events

@events.test_start.add_listener
def _(environment, **kwargs):
    close = environment.stats.close_window
    calls = []

    def breaking(now, user_count):
        calls.append(now)
        if len(calls) > 2:
            raise RuntimeError("the window broke")
        return close(now, user_count)

    environment.stats.close_window = breaking
""",
    )
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "2", "-t", "30s", "--json-file", "s",
        "--csv", "c",
    )  # fmt: skip
    assert result.returncode == 70, result.stderr
    assert "internal error" in result.stderr and "RuntimeError: the window broke" in result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["aggregated"]["num_requests"] > 0
    assert summary["aggregated"]["num_requests"] == target.requests[("GET", "/")]
    assert (tmp_path / "c_stats.csv").exists()


def test_bad_locustfile_is_one_line_exit_1(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "from locust import HttpUser\nraise ValueError('nope')\n")
    result = run_cli(tmp_path, "-f", "broken.py", "--headless")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "broken.py" in result.stderr and "ValueError: nope" in result.stderr
    missing = run_cli(tmp_path, "-f", "nowhere.py", "--headless")
    assert missing.returncode == 1
    assert "nowhere.py" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_flag_is_exit_2_with_suggestion(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", "--spawnrate", "3")
    assert result.returncode == 2
    assert "Did you mean --spawn-rate?" in result.stderr
    assert "Traceback" not in result.stderr
    bad_value = run_cli(tmp_path, "--headless", "-t", "soon")
    assert bad_value.returncode == 2 and "time span" in bad_value.stderr


def test_locusts_master_flag_points_to_ray_with_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    master = run_cli(tmp_path, "--headless", "--master")
    assert master.returncode == 2 and "through Ray" in master.stderr
    assert "--ray auto" in master.stderr and "Traceback" not in master.stderr


SHAPED = """
from locust import HttpUser, LoadTestShape, task, constant

class Simple(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")

class TwoThenStop(LoadTestShape):
    def tick(self):
        return (2, 10) if self.get_run_time() < 1.5 else None
"""


def test_a_load_shape_drives_the_headless_run(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SHAPED)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-u", "50", "--json-file", "summary"
    )  # no -t: the shape ends the test by returning None
    assert result.returncode == 0, result.stderr
    assert "-u, -r and -t are ignored" in result.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["aggregated"]["num_requests"] > 0
    assert "the load shape returned None: stopping" in result.stderr  # it ended the test


def test_list_and_task_ratio(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "-f", str(SEED), "--list")
    assert result.returncode == 0 and result.stdout.split() == ["CatsiteUser"]
    ratio = run_cli(tmp_path, "-f", str(SEED), "--show-task-ratio-json")
    assert ratio.returncode == 0
    tasks = json.loads(ratio.stdout)["per_class"]["CatsiteUser"]["tasks"]["TaskSet"]["tasks"]
    assert sorted(tasks) == ["create", "delete", "index", "update"]
    assert all(node["ratio"] == 0.25 for node in tasks.values())
    text = run_cli(tmp_path, "-f", str(SEED), "--show-task-ratio")
    assert "25.0% index" in text.stdout


def test_version_and_help(tmp_path: Path) -> None:
    version = run_cli(tmp_path, "-V")
    assert version.returncode == 0 and version.stdout.startswith("loadhopper ")
    # Help works without a locustfile in the directory.
    help_text = run_cli(tmp_path, "--help")
    assert help_text.returncode == 0 and "--spawn-rate" in help_text.stdout


def test_custom_arguments_from_locustfile(tmp_path: Path, target: Any) -> None:
    write(
        tmp_path,
        "locustfile.py",
        SIMPLE
        + """
from locust import events

@events.init_command_line_parser.add_listener
def _(parser):
    parser.add_argument("--greeting", type=str, env_var="LOCUST_GREETING", default="hi",
                        include_in_web_ui=True)

@events.init.add_listener
def _(environment, **kwargs):
    print("GREETING=" + environment.parsed_options.greeting, flush=True)
""",
    )
    result = run_cli(tmp_path, "--headless", "-H", target.url, "-t", "0.2s", "--greeting", "hello")
    assert result.returncode == 0, result.stderr
    assert "GREETING=hello" in result.stdout
    write(tmp_path, "locust.conf", "greeting = from-conf\nheadless = true\n")
    from_conf = run_cli(tmp_path, "-H", target.url, "-t", "0.2s")
    assert from_conf.returncode == 0, from_conf.stderr
    assert "GREETING=from-conf" in from_conf.stdout


def _wait_for_history_row(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and len(path.read_text().splitlines()) >= 2:
            return
        time.sleep(0.05)
    raise AssertionError("the run never closed its first stats window")


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "loadhopper", *args],
        cwd=cwd,
        env=_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_gracefully_with_summary_and_outputs(
    tmp_path: Path, target: Any, signum: signal.Signals
) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    process = _start(
        tmp_path, "--headless", "-H", target.url, "-u", "2", "-t", "60s", "--csv", "s",
        "--json-file", "s",
    )  # fmt: skip
    try:
        _wait_for_history_row(tmp_path / "s_stats_history.csv", process)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "Response time percentiles" in stdout
    stats = read_csv(tmp_path / "s_stats.csv")
    assert int(stats[-1]["Request Count"]) > 0
    assert json.loads((tmp_path / "s.json").read_text())["aggregated"]["num_requests"] > 0


def test_second_sigint_forces_the_stop(tmp_path: Path, target: Any) -> None:
    write(
        tmp_path,
        "locustfile.py",
        """
from locust import HttpUser, task, constant

class Slow(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
        self.client.get("/slow")  # held by the server until the test ends
""",
    )
    process = _start(
        tmp_path, "--headless", "-H", target.url, "-t", "60s", "-s", "60s", "--csv", "f"
    )
    try:
        _wait_for_history_row(tmp_path / "f_stats_history.csv", process)
        process.send_signal(signal.SIGINT)  # users get 60 s to finish /slow ...
        time.sleep(0.3)
        assert process.poll() is None  # ... so the first signal leaves it waiting
        process.send_signal(signal.SIGINT)  # the second one stops it at once
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert "again" in stderr
    assert "Response time percentiles" in stdout
    assert int(read_csv(tmp_path / "f_stats.csv")[-1]["Request Count"]) >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-u", "-1"], "-u/--users must be 0 or more"),
        (["-r", "0"], "-r/--spawn-rate must be above 0"),
        (["-t", "0"], "-t/--run-time must be above 0"),
        (["--csv-full-history"], "--csv-full-history needs --csv"),
    ],
)
def test_invalid_combinations_are_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--json-file", "--html"])
def test_unwritable_output_is_exit_2_before_the_test(tmp_path: Path, flag: str) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", flag, "no/such/dir/summary")
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_subcommand_dispatch(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "cats", "--help")
    assert result.returncode == 0, result.stderr


def test_log_options(tmp_path: Path, target: Any) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(
        tmp_path, "--headless", "-H", target.url, "-t", "0.2s", "-L", "debug", "--logfile", "x.log"
    )
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "x.log").read_text()
    assert "Shutting down (exit code 0)" in log
    assert "Shutting down" not in result.stderr
    bad = run_cli(tmp_path, "--headless", "--logfile", "no/such/dir/x.log")
    assert bad.returncode == 2 and "Cannot open the log file" in bad.stderr
