"""Case 5 (scale): the workers parser, the ratios, the lines, the flags, the tree's CPU.

No load here: rows are built by hand, and the process-tree tests run small CPU-burning
processes (no HTTP), which is what the tree measurement has to count.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# benchmarks/ is a folder of scripts, not a package: its modules import each other by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from _case5 import (
    Case5Result,
    Case5Row,
    Pinning,
    Variant,
    loadhopper_argv,
)
from _parse import ParseError, parse_loadhopper_workers
from _report import case5_lines, document, scale_line
from _tool_run import RunStatus
from _tree import Role, TreeRun, _ignores_sigchld, role_of, run_tree_measured
from run import parse_options

_WORKERS_JSON = {
    "aggregated": {"num_requests": 10, "num_failures": 0},
    "workers": [
        {"name": "worker 0 (pid 11)", "state": "stopped", "cpu_percent": 25.1, "lost_cause": None},
        {"name": "worker 1 (pid 12)", "state": "lost", "cpu_percent": None, "lost_cause": "killed"},
    ],
}


def test_workers_section_is_read() -> None:
    workers = parse_loadhopper_workers(json.dumps(_WORKERS_JSON))
    assert [w.name for w in workers] == ["worker 0 (pid 11)", "worker 1 (pid 12)"]
    assert workers[0].cpu_percent == 25.1 and workers[0].lost_cause is None
    assert workers[1].state == "lost" and workers[1].lost_cause == "killed"


def test_one_process_summary_has_no_workers() -> None:
    assert parse_loadhopper_workers(json.dumps({"aggregated": {}})) == ()
    assert parse_loadhopper_workers(json.dumps({"workers": None})) == ()


@pytest.mark.parametrize(
    "text", ["not json", json.dumps({"workers": {"a": 1}}), json.dumps({"workers": [{"x": 1}]})]
)
def test_malformed_workers_section_is_an_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_loadhopper_workers(text)


def test_roles() -> None:
    cmd = "/venv/bin/python /venv/bin/loadhopper -f lf.py"
    assert role_of(10, 10, "loadhopper", cmd.split(), cmd) is Role.MASTER
    assert role_of(11, 10, "loadhopper", cmd.split(), cmd) is Role.WORKERS
    # psutil's name is the kernel's 15-character comm; the command line is whole.
    assert role_of(12, 10, "ray::RayWorkerA", ["ray::RayWorkerActor"], cmd) is Role.WORKERS
    child = ["/venv/bin/python", "-m", "loadhopper.distributed._ray_child", "5", "12"]
    assert role_of(17, 10, "python", child, cmd) is Role.WORKERS
    assert role_of(13, 10, "ray::IDLE", ["ray::IDLE"], cmd) is Role.RAY
    assert role_of(14, 10, "raylet", ["/x/ray/core/src/ray/raylet/raylet"], cmd) is Role.RAY
    assert role_of(15, 10, "gcs_server", ["/x/gcs_server"], cmd) is Role.RAY
    assert role_of(16, 10, "sh", ["sh", "-c", "true"], cmd) is Role.OTHER


def _row(variant: Variant, rate: float | None, steady: float | None, **kw: object) -> Case5Row:
    status = kw.pop("status", RunStatus.OK)
    assert isinstance(status, RunStatus)
    return Case5Row(
        variant,
        status,
        str(kw.pop("note", "")),
        requests=100_000,
        failures=0,
        target_requests=100_000,
        wall_seconds=15.4,
        cpu_seconds=None if rate is None else 100_000 / rate,
        kernel_cpu_seconds=None if rate is None else 100_000 / rate,
        unreaped_cpu_seconds=0.0,
        cpu_by_role={"master": 4.0},
        processes=1,
        requests_per_cpu_second=rate,
        steady_per_cpu_second=steady,
        startup_seconds=0.3,
    )


def _result(*rows: Case5Row) -> Case5Result:
    return Case5Result("nginx", 16, 15, 2, Pinning.SHARED, 0, 1, rows, 60.0)


def test_cpu_per_request_ratio_is_one_process_rate_over_the_variant_rate() -> None:
    result = _result(
        _row(Variant.ONE, 20_000.0, 21_000.0),
        _row(Variant.PROCESSES, 25_000.0, 21_000.0),
        _row(Variant.RAY, 10_000.0, 20_000.0),
    )
    assert result.cpu_per_request_ratio(Variant.PROCESSES) == pytest.approx(0.8)
    assert result.cpu_per_request_ratio(Variant.RAY) == pytest.approx(2.0)
    assert result.steady_cpu_per_request_ratio(Variant.RAY) == pytest.approx(1.05)
    assert result.steady_cpu_per_request_ratio(Variant.PROCESSES) == pytest.approx(1.0)


def test_no_ratio_without_a_one_process_run_or_for_a_failed_variant() -> None:
    failed = _row(Variant.RAY, 10_000.0, None, status=RunStatus.FAILED, note="boom")
    assert (
        _result(_row(Variant.PROCESSES, 1.0, 1.0)).cpu_per_request_ratio(Variant.PROCESSES) is None
    )
    assert _result(_row(Variant.ONE, 1.0, 1.0), failed).cpu_per_request_ratio(Variant.RAY) is None


def test_scale_lines_give_the_ratio_the_goal_and_the_verdict() -> None:
    one = _row(Variant.ONE, 20_000.0, 21_000.0)
    cheap = _row(Variant.PROCESSES, 19_000.0, 20_500.0)
    dear = _row(Variant.RAY, 11_000.0, 20_000.0)
    result = _result(one, cheap, dear)
    assert scale_line(result, one) == (
        "case5 scale one process: 100,000 requests, 5.00 CPU s (master 4.00; all of it from "
        "wait4), 20,000 req/CPU-s, start-up 0.30 s"
    )
    assert scale_line(result, cheap).endswith(
        "CPU per request 1.05x one process (goal <= 1.1x; steady 1.02x); meets the goal"
    )
    assert scale_line(result, cheap).startswith("case5 scale --processes 2: ")
    assert scale_line(result, dear).endswith("(goal <= 1.1x; steady 1.05x); MISSES the goal")
    assert "--ray local --workers 2" in scale_line(result, dear)


def test_skipped_and_failed_variants_get_their_reason() -> None:
    skipped = Case5Row(Variant.RAY, RunStatus.SKIPPED, "Ray is not installed")
    result = _result(_row(Variant.ONE, 20_000.0, 21_000.0), skipped)
    assert scale_line(result, skipped) == (
        "case5 scale --ray local --workers 2 skipped: Ray is not installed"
    )
    lines = case5_lines(result)
    assert lines[0].startswith("case 5: scale: GET /, constant(0), 16 users, 15 s per variant")
    assert "generator tree on CPU 0 (master and workers share it)" in lines[0]
    assert lines[-1] == scale_line(result, skipped)


def test_spread_pinning_is_said_in_the_header() -> None:
    result = Case5Result("nginx", 16, 15, 2, Pinning.SPREAD, None, 1, (), 1.0)
    assert "compete with the target" in case5_lines(result)[0]


def test_document_holds_case5_and_its_ratios() -> None:
    result = _result(_row(Variant.ONE, 20_000.0, 21_000.0), _row(Variant.RAY, 10_000.0, 20_000.0))
    record = document("now", {}, {}, {}, None, None, None, result)
    json.dumps(record)  # it must serialize as is
    assert record["case5"]["cpu_per_request_vs_one_process"] == {"processes": None, "ray": 2.0}
    assert record["case5"]["goal"] == 1.1
    assert record["case5"]["rows"][1]["variant"] == "ray"


def test_argv_adds_only_the_distribution_flags(tmp_path: Path) -> None:
    base = tmp_path / "lh"
    one = loadhopper_argv(Variant.ONE, tmp_path / "lf.py", "http://127.0.0.1:1", 16, 15, 2, base)
    procs = loadhopper_argv(Variant.PROCESSES, tmp_path / "lf.py", "http://h", 16, 15, 3, base)
    ray = loadhopper_argv(Variant.RAY, tmp_path / "lf.py", "http://h", 16, 15, 2, base)
    assert one[one.index("-t") + 1] == "15s" and "--processes" not in one and "--ray" not in one
    assert procs[-2:] == ["--processes", "3"]
    assert ray[-4:] == ["--ray", "local", "--workers", "2"]


def test_flags() -> None:
    assert parse_options(["--case", "scale"]).cases == (5,)
    assert parse_options(["--case", "5"]).cases == (5,)
    assert 5 in parse_options([]).cases
    options = parse_options(["--case", "5", "--case5-workers", "3", "--case5-pinning", "spread"])
    assert options.case5_workers == 3 and options.case5_pinning is Pinning.SPREAD
    assert parse_options([]).case5_pinning is Pinning.SHARED


_BURN = (
    "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
)


def _measure(tmp_path: Path, script: str) -> TreeRun:
    path = tmp_path / "tree.py"
    path.write_text(textwrap.dedent(script))
    run, _ = run_tree_measured(
        [sys.executable, str(path)],
        cpu=None,
        timeout=60.0,
        stdout_path=tmp_path / "out",
        stderr_path=tmp_path / "err",
        count=lambda: None,
        count_includes_reads=False,
        probe_offsets=(1.0, 2.0),
    )
    return run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl subreaper is Linux's")
def test_an_orphaned_grandchild_is_reaped_here_and_its_cpu_counted(tmp_path: Path) -> None:
    # The root forks a child that starts a CPU-burning grandchild and exits at once: the
    # grandchild is orphaned, and plain wait4 on the root would never see its 0.4 s.
    burn = _BURN.format(seconds=0.4)
    run = _measure(
        tmp_path,
        f"""
        import os, subprocess, sys
        child = os.fork()
        if child == 0:
            subprocess.Popen([sys.executable, "-c", {burn!r}])
            os._exit(0)
        os.waitpid(child, 0)
        """,
    )
    assert run.exact and run.orphans >= 1
    assert run.cpu_seconds >= 0.4
    assert run.kernel_cpu_seconds - run.unreaped_cpu_seconds <= run.cpu_seconds


def test_children_of_a_sigchld_ignoring_parent_are_sampled(tmp_path: Path) -> None:
    # raylet's way: its children are reaped by the kernel and their times vanish.
    burn = _BURN.format(seconds=0.8)
    run = _measure(
        tmp_path,
        f"""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", {burn!r}])
        while child.poll() is None:
            time.sleep(0.05)
        """,
    )
    assert run.unreaped_processes >= 1
    assert run.unreaped_cpu_seconds > 0.0
    assert run.cpu_seconds == pytest.approx(run.kernel_cpu_seconds + run.unreaped_cpu_seconds)


def test_sigchld_disposition_is_read_from_proc() -> None:
    code = "import signal, time; signal.signal(signal.SIGCHLD, signal.SIG_IGN); time.sleep(30)"
    ignoring = subprocess.Popen([sys.executable, "-c", code])
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for _ in range(200):  # until the first has set its handler (bounded: 10 s)
            if _ignores_sigchld(ignoring.pid):
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert _ignores_sigchld(ignoring.pid)
        assert not _ignores_sigchld(plain.pid)
    finally:
        for process in (ignoring, plain):
            process.send_signal(signal.SIGKILL)
            process.wait()
