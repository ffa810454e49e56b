"""The argument parser: Locust's flags with Locust's meanings, plus loadhopper's own.

Every long flag is also a config-file key (`spawn-rate = 5`) and an environment variable
(`LOCUST_SPAWN_RATE`, `LOADHOPPER_SPAWN_RATE`); see `_config.py`. Destinations keep Locust's
names (`num_users`, `csv_prefix`, `stats_history_enabled`, ...) because locustfiles read them
from `environment.parsed_options`.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any, NoReturn

from loadhopper._exceptions import ConfigError
from loadhopper.cli._rate import parse_rate, parse_stages
from loadhopper.cli._size import format_size, parse_size
from loadhopper.cli._timespan import parse_timespan
from loadhopper.http import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE

__all__ = ["LocustArgumentParser", "build_parser", "suggest_flag"]

# Keyword arguments Locust's parser accepts on `add_argument` (configargparse's `env_var`
# and Locust's web-UI hints). Locustfiles pass them from `init_command_line_parser`
# listeners; the web UI will read the hints later, so they are kept on the action.
_EXTRA_KWARGS = ("env_var", "include_in_web_ui", "is_secret", "is_required", "is_multiple")


class LocustArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises ConfigError instead of exiting, and that accepts the
    extra `add_argument` keywords Locust's own parser accepts (`env_var`, `include_in_web_ui`,
    `is_secret`, `is_required`, `is_multiple`)."""

    def __init__(self, **kwargs: Any) -> None:
        # No abbreviations: `--user` must not silently mean `--users`, and a custom flag
        # added by a locustfile must not change what an abbreviation means.
        super().__init__(allow_abbrev=False, add_help=False, **kwargs)
        self.env_vars: dict[str, str] = {}  # dest -> the env var a listener asked for

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """Add an argument; `env_var=` and the web-UI hints are recorded on the action."""
        extras = {key: kwargs.pop(key) for key in _EXTRA_KWARGS if key in kwargs}
        action = super().add_argument(*args, **kwargs)
        for key, value in extras.items():
            setattr(action, key, value)
        if isinstance(extras.get("env_var"), str):
            self.env_vars[action.dest] = extras["env_var"]
        return action

    def error(self, message: str) -> NoReturn:
        """Raise ConfigError (argparse would print usage and exit the process)."""
        raise ConfigError(f"{message.rstrip('.')}. Run `loadhopper --help` to see every option.")

    def option_names(self) -> list[str]:
        """Every option string, e.g. `-u` and `--users`."""
        return [name for action in self._actions for name in action.option_strings]


def suggest_flag(parser: LocustArgumentParser, flag: str) -> str:
    """A " Did you mean --x?" suffix for an unknown flag (empty when nothing is close)."""
    name = flag.split("=", 1)[0]
    longs = [n for n in parser.option_names() if n.startswith("--")]
    matches = difflib.get_close_matches(name, longs, n=1, cutoff=0.6)
    return f" Did you mean {matches[0]}?" if matches else ""


def _timespan(text: str) -> float:
    try:
        return parse_timespan(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _add_common(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Common options")
    group.add_argument("-h", "--help", action="store_true", help="Show this help and exit.")
    group.add_argument(
        "-f",
        "--locustfile",
        default="locustfile.py",
        help="The Python file that defines the User classes (default: locustfile.py).",
    )
    group.add_argument("--config", help="Read options from this config file (key = value).")
    group.add_argument("-H", "--host", help="The target host, e.g. http://127.0.0.1:8000.")
    group.add_argument(
        "-u", "--users", dest="num_users", type=int, help="Peak number of users (default 1)."
    )
    group.add_argument(
        "-r", "--spawn-rate", type=float, help="Users started per second (default 1)."
    )
    group.add_argument(
        "-t",
        "--run-time",
        type=_timespan,
        help="Stop after this long, counted from the start including ramp-up: 20, 20s, 3m, "
        "1h30m. Without it a headless run lasts until Ctrl-C.",
    )
    group.add_argument(
        "-l", "--list", dest="list_commands", action="store_true", help="List the User classes."
    )
    group.add_argument("-V", "--version", action="store_true", help="Show the version and exit.")
    group.add_argument(
        "user_classes",
        nargs="*",
        metavar="UserClass",
        help="Run only these User classes (default: all in the locustfile).",
    )


def _add_web(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Web UI options")
    group.add_argument(
        "--headless", action="store_true", help="Run without the web UI; start at once."
    )
    group.add_argument(
        "--autostart", action="store_true", help="Start the test at once (the UI still runs)."
    )
    group.add_argument(
        "--autoquit",
        type=int,
        default=-1,
        help="With --autostart: quit this many seconds after the test ends.",
    )
    group.add_argument(
        "--web-host",
        default="",
        help="Interface the web UI listens on (default 127.0.0.1 only; * for all).",
    )
    group.add_argument("-P", "--web-port", type=int, default=8089, help="Web UI port (8089).")
    group.add_argument(
        "--class-picker",
        action="store_true",
        help="Let the start form set each User class's weight and fixed count.",
    )
    group.add_argument(
        "--web-login",
        nargs="?",
        const=True,
        default=False,
        metavar="USER:PASSWORD",
        help="Require this login on every page of the UI; without a value, a random "
        "password is made and printed.",
    )


def _add_outputs(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Outputs")
    group.add_argument(
        "--csv",
        dest="csv_prefix",
        metavar="PREFIX",
        help="Write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv and "
        "PREFIX_exceptions.csv (Locust's columns).",
    )
    group.add_argument(
        "--csv-full-history",
        dest="stats_history_enabled",
        action="store_true",
        help="Write every row to the history CSV each second, not only the Aggregated row.",
    )
    group.add_argument(
        "--html",
        dest="html_file",
        metavar="FILE",
        help="Write the self-contained HTML report to FILE; {u}, {r} and {t} in the name "
        "become the users, spawn rate and run time.",
    )
    group.add_argument(
        "--json", action="store_true", help="Print the JSON summary to stdout at the end."
    )
    group.add_argument("--json-file", metavar="BASE", help="Write the JSON summary to BASE.json.")
    group.add_argument(
        "--baseline",
        metavar="BASE.json",
        help="At the end, print how this run changed against that earlier run's JSON summary "
        "(as `loadhopper compare` does).",
    )
    group.add_argument(
        "--fail-on",
        dest="fail_on",
        metavar="EXPR",
        action="append",
        default=[],
        help="With --baseline, exit 98 when the change holds, repeatable: 'p95>+10%%', "
        "'GET /api:p99>+5ms', 'rps<-20%%', 'fail_ratio>+0.01'.",
    )
    group.add_argument(
        "--junit",
        dest="junit_file",
        metavar="FILE",
        help="Write a JUnit XML file for CI: one test case per threshold, or per row failing "
        "on request failures when there are none.",
    )
    group.add_argument(
        "--otel",
        action="store_true",
        help="Export the metrics over OTLP/HTTP to the collector the OTEL_EXPORTER_OTLP_* "
        "variables name (pip install 'loadhopper[otel]').",
    )
    group.add_argument(
        "--prometheus-port",
        type=int,
        metavar="PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics during a headless run "
        "(0: any free port; the web UI always serves them at /metrics).",
    )
    group.add_argument(
        "--prometheus-host",
        default="127.0.0.1",
        metavar="HOST",
        help="The interface --prometheus-port listens on (default 127.0.0.1; 0.0.0.0 for all).",
    )
    group.add_argument(
        "--print-stats", action="store_true", help="Print the stats table every 2 seconds."
    )
    group.add_argument("--only-summary", action="store_true", help="Print only the final summary.")
    group.add_argument(
        "--reset-stats", action="store_true", help="Reset the stats once ramp-up completes."
    )
    group.add_argument(
        "--max-stats-rows",
        type=_positive_int,
        default=500,
        help="Distinct request names kept before the rest are counted in one row (500).",
    )
    group.add_argument(
        "--no-url-templating",
        action="store_true",
        help="Name requests by their raw path (/17/delete), not their template (/[id]/delete).",
    )


def _add_run(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Running")
    group.add_argument("-T", "--tags", nargs="*", help="Run only tasks with one of these tags.")
    group.add_argument("-E", "--exclude-tags", nargs="*", help="Skip tasks with any of these tags.")
    group.add_argument(
        "-s",
        "--stop-timeout",
        type=_timespan,
        default=0.0,
        help="Seconds users get to finish their task when the test stops (default 0).",
    )
    group.add_argument(
        "--exit-code-on-error",
        type=int,
        default=1,
        help="Exit code when there were failures or exceptions (default 1).",
    )
    group.add_argument(
        "--equal-weights", action="store_true", help="Spawn every User class equally."
    )
    group.add_argument(
        "--strict-locust",
        action="store_true",
        help="Fail where Locust fails (a path without a leading slash, a `with` block "
        "without catch_response), so that the locustfile stays portable to Locust.",
    )
    group.add_argument(
        "--max-body-size",
        type=_size,
        default=DEFAULT_MAX_BODY_SIZE,
        metavar="SIZE",
        help="Fail a request whose response body is larger than this on the wire: bytes or "
        f"64KB, 64KiB, 10MB, 10MiB, 1GB, 1GiB (default {format_size(DEFAULT_MAX_BODY_SIZE)}).",
    )
    group.add_argument(
        "--max-decoded-size",
        type=_size,
        default=DEFAULT_MAX_DECODED_SIZE,
        metavar="SIZE",
        help="Fail a request whose response body is larger than this once decompressed "
        f"(default {format_size(DEFAULT_MAX_DECODED_SIZE)}).",
    )
    group.add_argument(
        "--local-ips",
        metavar="IPS",
        help="Make HTTP users' connections from these local addresses, in turn: addresses, "
        "ranges and networks, comma-separated (127.0.0.1-127.0.0.4,10.0.0.0/30). Each "
        "address has its own local ports, so more connections start cheaply than the "
        "about 14,000 one address allows.",
    )
    group.add_argument(
        "--show-task-ratio", action="store_true", help="Print the task ratios and exit."
    )
    group.add_argument(
        "--show-task-ratio-json", action="store_true", help="Print them as JSON and exit."
    )
    group.add_argument(
        "-L", "--loglevel", default="INFO", type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        help="Log level (default INFO).",
    )  # fmt: skip
    group.add_argument("--logfile", help="Write the log to this file instead of stderr.")
    group.add_argument(
        "--skip-log-setup", action="store_true", help="Leave logging as the caller set it up."
    )


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stages(text: str) -> tuple[tuple[float, float], ...]:
    try:
        return parse_stages(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_open_model(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Open workload model (arrival rates)")
    group.add_argument(
        "--arrival-rate",
        type=_rate,
        metavar="RATE",
        help="Start iterations (one task of a free user) at this fixed rate, whatever the "
        "target's speed: 200/s, 200/m or 200 (per second). -u users are started first; more "
        "are started as needed up to --max-users.",
    )
    group.add_argument(
        "--arrival-stages",
        type=_stages,
        default=(),
        metavar="STAGES",
        help="Staged arrival rates, each a linear ramp from the previous rate (the "
        "--arrival-rate, or 0) to its target over its duration: '30s:100/s,2m:100/s,30s:0'.",
    )
    group.add_argument(
        "--max-users",
        type=_positive_int,
        metavar="N",
        help="With an arrival rate: the most users that may run at once (default: -u, or 100).",
    )
    group.add_argument(
        "--backlog-timeout",
        type=_timespan,
        default=10.0,
        metavar="TIME",
        help="With an arrival rate: an iteration that found no free user waits for one at "
        "most this long, then is dropped and counted (default 10s).",
    )


def _add_thresholds(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Thresholds")
    group.add_argument(
        "--threshold",
        action="append",
        dest="thresholds",
        default=[],
        metavar="EXPR",
        help="A pass/fail condition on the merged results, repeatable: 'p95<200', "
        "'GET /api:p99.9<1000', 'corrected_p99<500', 'avg<50', 'fail_ratio<0.01', "
        "'rps>100', 'dropped<1'. Any failing threshold sets the exit code to 99.",
    )
    group.add_argument(
        "--threshold-abort",
        action="store_true",
        help="Stop the test at the first threshold breach (after --threshold-abort-delay).",
    )
    group.add_argument(
        "--threshold-abort-delay",
        type=_timespan,
        default=0.0,
        metavar="TIME",
        help="With --threshold-abort: judge breaches only after this much of the test (default 0).",
    )


def _add_distributed(parser: LocustArgumentParser) -> None:
    group = parser.add_argument_group("Distributed runs")
    group.add_argument(
        "--processes",
        type=int,
        help="Run the users in N worker processes on this machine under a master in this "
        "one (-1: one per CPU core).",
    )
    group.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="Run the users on Ray actors: 'auto' (the cluster this machine is part of), "
        "'ray://HOST:10001', or 'local' (start a local Ray instance). Needs loadhopper[ray].",
    )
    group.add_argument(
        "--workers",
        type=int,
        help="With --ray: how many worker actors (default: one per CPU the cluster offers).",
    )
    group.add_argument(
        "--master", action="store_true", help="Locust's master mode: use --ray instead."
    )
    group.add_argument(
        "--worker", action="store_true", help="Locust's worker mode: use --ray instead."
    )
    group.add_argument("--master-host", default="127.0.0.1", help="The master's address.")
    group.add_argument("--master-port", type=int, default=5557, help="The master's port.")
    group.add_argument("--master-bind-host", default="*", help="Interface the master binds.")
    group.add_argument("--master-bind-port", type=int, default=5557, help="Port it binds.")
    group.add_argument("--expect-workers", type=int, default=1, help="Workers to wait for.")
    group.add_argument(
        "--expect-workers-max-wait", type=int, default=0, help="Seconds to wait for them."
    )


def build_parser() -> LocustArgumentParser:
    """A parser with every built-in flag (locustfiles may add their own before parsing)."""
    parser = LocustArgumentParser(
        prog="loadhopper",
        usage="loadhopper [options] [UserClass ...]\n"
        "       loadhopper cats ...   (the sample cats site)\n"
        "       loadhopper demo ...   (the guided demo)",
        description="Run a load test from a Locust-style locustfile.",
        epilog="Every long option is also a config-file key (spawn-rate = 5) and an "
        "environment variable (LOCUST_SPAWN_RATE or LOADHOPPER_SPAWN_RATE).",
    )
    _add_common(parser)
    _add_web(parser)
    _add_outputs(parser)
    _add_run(parser)
    _add_open_model(parser)
    _add_thresholds(parser)
    _add_distributed(parser)
    return parser
