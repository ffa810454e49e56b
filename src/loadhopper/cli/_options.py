"""The parsed options: a frozen, typed `Options`, built from every source in Locust's order.

Parsing happens in two passes, as in Locust: the first finds the locustfile (tolerating
flags that only the locustfile defines), the caller imports the locustfile and fires
`events.init_command_line_parser` so that listeners can add their flags, then the second
pass parses everything strictly.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from loadhopper._exceptions import ConfigError
from loadhopper.cli._config import apply_settings, collect_settings, env_settings
from loadhopper.cli._parser import LocustArgumentParser, build_parser, suggest_flag
from loadhopper.http import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE

__all__ = ["Options", "parse_options"]


@dataclass(frozen=True)
class Options:
    """Every option of a run, typed; field names are Locust's `parsed_options` names.

    `extra` holds the options that locustfiles added through `init_command_line_parser`,
    by their destination name.
    """

    locustfile: str = "locustfile.py"
    host: str | None = None
    num_users: int | None = None
    spawn_rate: float | None = None
    run_time: float | None = None
    list_commands: bool = False
    version: bool = False
    help: bool = False
    config: str | None = None
    user_classes: tuple[str, ...] = ()
    headless: bool = False
    autostart: bool = False
    autoquit: int = -1
    web_host: str = ""
    web_port: int = 8089
    web_login: bool | str = False  # True: a random password; str: USER:PASSWORD
    class_picker: bool = False
    csv_prefix: str | None = None
    stats_history_enabled: bool = False
    html_file: str | None = None
    json: bool = False
    json_file: str | None = None
    baseline: str | None = None
    fail_on: tuple[str, ...] = ()
    junit_file: str | None = None
    otel: bool = False
    prometheus_port: int | None = None
    prometheus_host: str = "127.0.0.1"
    print_stats: bool = False
    only_summary: bool = False
    reset_stats: bool = False
    max_stats_rows: int = 500
    no_url_templating: bool = False
    tags: tuple[str, ...] | None = None
    exclude_tags: tuple[str, ...] | None = None
    stop_timeout: float = 0.0
    exit_code_on_error: int = 1
    equal_weights: bool = False
    strict_locust: bool = False
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_decoded_size: int = DEFAULT_MAX_DECODED_SIZE
    local_ips: str | None = None
    show_task_ratio: bool = False
    show_task_ratio_json: bool = False
    loglevel: str = "INFO"
    logfile: str | None = None
    skip_log_setup: bool = False
    arrival_rate: float | None = None  # iterations per second
    arrival_stages: tuple[tuple[float, float], ...] = ()  # (seconds, target per second)
    max_users: int | None = None
    backlog_timeout: float = 10.0
    thresholds: tuple[str, ...] = ()
    threshold_abort: bool = False
    threshold_abort_delay: float = 0.0
    processes: int | None = None
    ray: str | None = None
    workers: int | None = None
    master: bool = False
    worker: bool = False
    master_host: str = "127.0.0.1"
    master_port: int = 5557
    master_bind_host: str = "*"
    master_bind_port: int = 5557
    expect_workers: int = 1
    expect_workers_max_wait: int = 0
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> Options:
        """Build Options from a parsed namespace; unknown destinations go to `extra`."""
        values = dict(vars(namespace))
        known: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            if item.name != "extra" and item.name in values:
                value = values.pop(item.name)
                known[item.name] = tuple(value) if isinstance(value, list) else value
        return cls(**known, extra=MappingProxyType(values))

    def as_namespace(self) -> argparse.Namespace:
        """The options as an `argparse.Namespace`, for `environment.parsed_options`.

        Lists come back as lists, and the locustfile's own options sit beside the built-in
        ones, as in Locust.
        """
        values: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            values[item.name] = list(value) if isinstance(value, tuple) else value
        values.update(self.extra)
        return argparse.Namespace(**values)


def _reject_leftovers(parser: LocustArgumentParser, leftovers: Sequence[str]) -> None:
    for arg in leftovers:
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            raise ConfigError(
                f"Unknown option {name}.{suggest_flag(parser, name)} "
                "Run `loadhopper --help` to see every option."
            )
    if leftovers:
        raise ConfigError(f"Unexpected argument {leftovers[0]!r}; see `loadhopper --help`.")


def parse_options(
    argv: Sequence[str],
    parser: LocustArgumentParser | None = None,
    *,
    strict: bool = True,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
) -> Options:
    """Parse the command line over config files and environment variables.

    Args:
        argv: the arguments, without the program name.
        parser: the parser to use (a fresh `build_parser()` when None). Pass the same parser
            to both passes, after locustfile listeners have added their flags to it.
        strict: False for the first pass: unknown flags and config keys are ignored.
        environ: the environment (default `os.environ`).
        cwd: where `locust.conf`, `loadhopper.conf` and `pyproject.toml` are looked for
            (default: the current directory).
        home: where `.locust.conf` is looked for (default: the user's home).

    Returns:
        The options.

    Raises:
        ConfigError: an unknown flag or key (with a suggestion), a bad value, or a missing
            `--config` file.
    """
    parser = parser or build_parser()
    environ = os.environ if environ is None else environ
    settings = collect_settings(
        argv, environ, cwd or Path.cwd(), home if home is not None else Path.home()
    )
    apply_settings(parser, [*settings, *env_settings(parser, environ)], strict=strict)
    namespace, leftovers = parser.parse_known_intermixed_args(list(argv))
    if strict:
        _reject_leftovers(parser, leftovers)
    return Options.from_namespace(namespace)
