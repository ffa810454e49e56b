"""The side-by-side benchmark: loadhopper against Locust (HttpUser, FastHttpUser) and wrk.

Case 1 measures requests per CPU-second against a fast local target (nginx when installed);
case 2 runs 10,000 users with between(2, 5) against a 10 ms target and checks rate, median and
memory per user; case 3 ("realistic") runs the demo locustfile (four routes, form posts, a
SequentialTaskSet) with no wait against a stub of the cats site and compares requests per
CPU-second with Locust HttpUser (issue 12); case 4 ("sleep") runs 20 users that sleep with
time.sleep(0.5) after each request and compares requests and medians with Locust's (issue 9);
case 5 ("scale") runs the case 1 workload through loadhopper as one process, `--processes 2`
and `--ray local --workers 2` and compares CPU per request (issue 10); case 6 ("open")
searches for the highest arrival rate one process holds within 1 % and prints it beside the
closed model's rate (issue 11). All traffic goes to 127.0.0.1; every run is bounded in time;
every process started here is stopped by its pid. Results print as a table plus `case1 ...`
to `case6 ...` lines and are saved as JSON under benchmarks/results/.

Usage: ./dev bench [--case 1|2|3|realistic|4|sleep|5|scale|6|open|all] [--duration 15]
                   [--case2-duration 60] [--users 10000] [--case1-users 16]
                   [--case3-duration 15] [--case3-users 16] [--case4-duration 10] [--case4-users 20]
                   [--case4-spawn-rate 20] [--case5-workers 2] [--case5-pinning shared]
                   [--case6-duration 10] [--case6-max-users 64]
                   [--tools loadhopper,locust-http,locust-fast,wrk]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from _case1 import Case1Result, run_case1
from _case2 import CASE2_TOOLS, Case2Result, run_case2
from _case3 import CASE3_TOOLS, Case3Result, case3_lines, case3_record, run_case3
from _case4 import CASE4_TOOLS, Case4Result, run_case4
from _case5 import Case5Result, Pinning, ray_availability, run_case5
from _case6 import MAX_USERS_FACTOR, Case6Result, run_case6
from _process import allowed_cpus, raise_open_file_limit
from _report import case1_lines, case2_lines, case4_lines, case5_lines, case6_lines, document
from _tools import Availability, Tool, availability

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Options:
    """The command line, parsed."""

    cases: tuple[int, ...]
    duration: int
    case2_duration: int
    users: int
    case1_users: int
    case4_duration: int
    case4_users: int
    case4_spawn_rate: float | None
    case5_workers: int
    case5_pinning: Pinning
    tools: tuple[Tool, ...]
    case6_duration: int
    case6_max_users: int
    case3_duration: int = 15
    case3_users: int = 16


def _tools(text: str) -> tuple[Tool, ...]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return tuple(Tool(name) for name in names)
    except ValueError:
        known = ",".join(tool.value for tool in Tool)
        raise argparse.ArgumentTypeError(
            f"--tools takes names from {known}; got {text!r}"
        ) from None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="./dev bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    # "all" leaves out case 3 (two runs of --case3-duration: about 40 s), which `--case 3`
    # runs on its own, so that `all` stays what it was. It includes case 4 (three 10 s runs,
    # about 45 s) and case 5 (three runs of --duration, Ray's start-up and shutdown: about 75 s) and
    # case 6 (at most nine runs of --case6-duration: about 100 s).
    parser.add_argument(
        "--case",
        choices=["1", "2", "3", "realistic", "4", "sleep", "5", "scale", "6", "open", "all"],
        default="all",
        help="3 = realistic, 4 = sleep, 5 = scale, 6 = open",
    )
    parser.add_argument("--duration", type=_positive, default=15, help="case 1 run time, s")
    parser.add_argument("--case2-duration", type=_positive, default=60, help="case 2 run time, s")
    parser.add_argument("--users", type=_positive, default=10_000, help="case 2 users")
    parser.add_argument("--case1-users", type=_positive, default=16, help="case 1 users")
    parser.add_argument(
        "--case3-duration", type=_positive, default=15, help="case 3 run time of each tool, s"
    )
    parser.add_argument("--case3-users", type=_positive, default=16, help="case 3 users")
    parser.add_argument("--case4-duration", type=_positive, default=10, help="case 4 run time, s")
    parser.add_argument("--case4-users", type=_positive, default=20, help="case 4 users")
    parser.add_argument(
        "--case4-spawn-rate",
        type=_positive,
        default=None,
        help="case 4 users started per second; default: --case4-users (one second of ramp)",
    )
    parser.add_argument(
        "--case5-workers", type=_positive, default=2, help="case 5 workers (processes, actors)"
    )
    parser.add_argument(
        "--case5-pinning",
        type=Pinning,
        choices=list(Pinning),
        default=Pinning.SHARED,
        help="case 5: shared = the generator tree on one CPU; spread = unpinned",
    )
    parser.add_argument(
        "--case6-duration", type=_positive, default=10, help="case 6 run time of each run, s"
    )
    parser.add_argument(
        "--case6-max-users",
        type=_positive,
        default=None,
        help=f"case 6 --max-users (and -u); default {MAX_USERS_FACTOR}x --case1-users",
    )
    parser.add_argument(
        "--tools", type=_tools, default=tuple(Tool), help="comma-separated; default all"
    )
    args = parser.parse_args(argv)
    aliases = {
        "all": (1, 2, 4, 5, 6),
        "realistic": (3,),
        "sleep": (4,),
        "scale": (5,),
        "open": (6,),
    }
    cases = aliases.get(args.case) or (int(args.case),)
    max_users = args.case6_max_users or MAX_USERS_FACTOR * args.case1_users
    return Options(
        cases,
        args.duration,
        args.case2_duration,
        args.users,
        args.case1_users,
        args.case4_duration,
        args.case4_users,
        args.case4_spawn_rate,
        args.case5_workers,
        args.case5_pinning,
        args.tools,
        args.case6_duration,
        max_users,
        args.case3_duration,
        args.case3_users,
    )


def _cpus() -> tuple[int | None, int | None]:
    """(generator CPU, target CPU): the first two CPUs we may use; unpinned with only one."""
    cpus = allowed_cpus()
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return None, None
    return cpus[0], cpus[1]


def _environment(nofile: int) -> dict[str, object]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "allowed_cpus": allowed_cpus(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "open_file_limit": nofile,
    }


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Unwinding (rather than dying) runs every `finally`: generators and targets are stopped
    # by their pids and the temporary directory is removed.
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    began = time.monotonic()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    nofile = raise_open_file_limit()
    if 2 in options.cases and nofile < options.users + 1_000:
        print(
            f"warning: the open-file limit is {nofile}, below {options.users} users plus "
            "headroom; raise `ulimit -Hn` or use --users."
        )
    cpus = _cpus()
    needed = set(options.tools) if 1 in options.cases else set()
    if 5 in options.cases or 6 in options.cases:
        needed.add(Tool.LOADHOPPER)  # cases 5 and 6 run loadhopper only, whatever --tools says
    if 2 in options.cases:
        needed |= set(options.tools) & set(CASE2_TOOLS)
    if 3 in options.cases:
        needed |= set(options.tools) & set(CASE3_TOOLS)
    if 4 in options.cases:
        needed |= set(options.tools) & set(CASE4_TOOLS)
    available: dict[Tool, Availability] = {
        tool: availability(tool) for tool in Tool if tool in needed
    }
    for tool, status in available.items():
        print(
            f"{tool.label}: {status.detail if status.ok else 'MISSING, skipped: ' + status.detail}"
        )
    ray = ray_availability() if 5 in options.cases else None
    if ray is not None:
        print(
            f"ray: {ray.detail if ray.ok else 'MISSING, the Ray variant is skipped: ' + ray.detail}"
        )
    print(f"load average {os.getloadavg()[0]:.2f}; the machine is shared, so compare ratios.")

    case1: Case1Result | None = None
    case2: Case2Result | None = None
    case3: Case3Result | None = None
    case4: Case4Result | None = None
    case5: Case5Result | None = None
    case6: Case6Result | None = None
    with tempfile.TemporaryDirectory(prefix="loadhopper-bench-") as tmp:
        workdir = Path(tmp)
        if 1 in options.cases:
            case1 = run_case1(
                options.tools, available, options.case1_users, options.duration, cpus, workdir
            )
            print(
                "\n".join(
                    ["", *case1_lines(case1), f"case 1 took {case1.elapsed_seconds:.0f} s", ""]
                )
            )
        if 2 in options.cases:
            case2 = run_case2(
                options.tools, available, options.users, options.case2_duration, cpus, workdir
            )
            print(
                "\n".join(
                    ["", *case2_lines(case2), f"case 2 took {case2.elapsed_seconds:.0f} s", ""]
                )
            )
        if 3 in options.cases:
            case3 = run_case3(
                options.tools,
                available,
                options.case3_users,
                options.case3_duration,
                cpus,
                workdir,
            )
            print(
                "\n".join(
                    ["", *case3_lines(case3), f"case 3 took {case3.elapsed_seconds:.0f} s", ""]
                )
            )
        if 4 in options.cases:
            case4 = run_case4(
                options.tools,
                available,
                options.case4_users,
                options.case4_duration,
                cpus,
                workdir,
                options.case4_spawn_rate,
            )
            print(
                "\n".join(
                    ["", *case4_lines(case4), f"case 4 took {case4.elapsed_seconds:.0f} s", ""]
                )
            )
        if 5 in options.cases and ray is not None:
            case5 = run_case5(
                available[Tool.LOADHOPPER],
                ray,
                options.case1_users,
                options.duration,
                options.case5_workers,
                cpus,
                options.case5_pinning,
                workdir,
            )
            print(
                "\n".join(
                    ["", *case5_lines(case5), f"case 5 took {case5.elapsed_seconds:.0f} s", ""]
                )
            )
        if 6 in options.cases:
            case6 = run_case6(
                available[Tool.LOADHOPPER],
                options.case1_users,
                options.case6_max_users,
                options.case6_duration,
                cpus,
                workdir,
            )
            print(
                "\n".join(
                    ["", *case6_lines(case6), f"case 6 took {case6.elapsed_seconds:.0f} s", ""]
                )
            )

    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    record = document(
        started,
        {
            "cases": list(options.cases),
            "duration": options.duration,
            "case2_duration": options.case2_duration,
            "users": options.users,
            "case1_users": options.case1_users,
            "case4_duration": options.case4_duration,
            "case4_users": options.case4_users,
            "case4_spawn_rate": options.case4_spawn_rate,
            "case5_workers": options.case5_workers,
            "case5_pinning": options.case5_pinning.value,
            "tools": [tool.value for tool in options.tools],
            "case6_duration": options.case6_duration,
            "case6_max_users": options.case6_max_users,
            "case3_duration": options.case3_duration,
            "case3_users": options.case3_users,
        },
        _environment(nofile),
        available,
        case1,
        case2,
        case4,
        case5,
        case6,
    )
    if case3 is not None:
        # Case 3's record comes from _case3.py itself (_report.py's `document` predates it).
        record["case3"] = case3_record(case3)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"results saved to {path} (total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
