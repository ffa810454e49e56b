"""Every option checked before the run starts, each problem one plain line (exit code 2).

A value that cannot work is refused here, while nothing has started, rather than when the
first user starts or the last file is written: a run that was going to fail after an hour
fails in a second instead, with a sentence that names the option, instead of a traceback.

Two passes: `check_options` needs only the options (ranges, paths, tags), and `check_run`
also needs the User classes the run will use (the hosts, and whether the tags leave any
task to run).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from loadhopper._exceptions import ConfigError
from loadhopper.cli._options import Options
from loadhopper.cli._outputs import html_path, json_path
from loadhopper.http import parse_local_ips
from loadhopper.runtime import Environment, Locustfile
from loadhopper.runtime._arrival import DEFAULT_MAX_USERS, ArrivalPlan
from loadhopper.user import HttpUser
from loadhopper.user._task import TAGS_ATTR, TagFilter, holder_tags, is_task_holder

__all__ = ["arrival_plan_of", "check_options", "check_run", "host_problem"]

_SCHEMES = ("http://", "https://")
_MAX_PORT = 65535
_MAX_EXIT_CODE = 255  # POSIX keeps the low 8 bits of an exit status: 256 would read as 0
# A DNS name (RFC 1123 letters, digits, hyphens, dots) plus "_", which container and
# service-discovery names use and resolvers accept.
_HOST_NAME = re.compile(r"^[a-z0-9_.-]+$")


def host_problem(url: str) -> str | None:
    """What makes `url` unusable as a target host, or None when it is usable.

    A target host is an absolute http or https URL with a host name, an optional port
    from 1 to 65535 and an optional base path (`http://127.0.0.1:8000/api`), with no
    whitespace anywhere.
    """
    if not url:
        return "it is empty"
    if any(character.isspace() for character in url):
        return "it contains whitespace"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if not url.lower().startswith(_SCHEMES):
        return "it must start with http:// or https://"
    host = parts.hostname
    if not host:
        return "it has no host name after the scheme"
    problem = _host_name_problem(host)
    if problem is not None:
        return problem
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"its port must be a number from 1 to {_MAX_PORT}"
    return None


def _host_name_problem(host: str) -> str | None:
    if ":" in host:  # urlsplit only gives a ":" for a bracketed IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return f"{host!r} is not a valid host name"
    if not _HOST_NAME.match(host):
        return f"{host!r} is not a valid host name"
    return None


def check_options(options: Options) -> None:
    """Check every option that can be judged without the locustfile's classes.

    Raises:
        ConfigError: the first option that cannot work, named in one sentence.
    """
    _check_load(options)
    _check_times(options)
    _check_ranges(options)
    if options.local_ips is not None:
        try:
            parse_local_ips(options.local_ips)
        except ValueError as exc:
            raise ConfigError(f"{exc}.") from None
    _check_tags("-T/--tags", options.tags, allow_empty=False)
    _check_tags("-E/--exclude-tags", options.exclude_tags, allow_empty=True)
    _check_outputs(options)
    _check_web(options)
    _check_distributed(options)


def _check_distributed(options: Options) -> None:
    if options.master or options.worker or options.master_host != "127.0.0.1":
        raise ConfigError(
            "loadhopper runs on many machines through Ray instead of --master/--worker: "
            f"run `loadhopper -f {options.locustfile} --ray auto ...` on a node of the cluster."
        )
    if options.processes is not None:
        if options.processes == 0 or options.processes < -1:
            raise ConfigError(
                f"--processes must be -1 (one per CPU core) or at least 1, got {options.processes}."
            )
        if options.ray is not None:
            raise ConfigError("--processes and --ray cannot be combined; choose one of them.")
    if options.workers is not None:
        if options.ray is None:
            raise ConfigError("--workers needs --ray; for workers on this machine use --processes.")
        if options.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {options.workers}.")
    if options.ray is not None:
        address = options.ray
        if address not in ("auto", "local") and not address.startswith("ray://"):
            raise ConfigError(
                f"--ray {address!r} is not a Ray address; give auto, local or ray://HOST:PORT."
            )


def check_run(env: Environment, options: Options) -> None:
    """Check what depends on the run's User classes: the hosts, and the tags.

    Hosts are checked for HTTP users (HttpUser, FastHttpUser and their subclasses) only:
    other users may use `host` for anything (Locust's gRPC example sets
    `host = "localhost:50051"`), so a run of those alone takes any `-H`.

    Raises:
        ConfigError: -H/--host, or the `host` of an HTTP User class when no -H overrides
            it, is not an http(s) URL; or the tags leave no task to run in any class.
    """
    http_classes = [cls for cls in env.user_classes if issubclass(cls, HttpUser)]
    if http_classes and options.host is not None:
        problem = host_problem(options.host)
        if problem is not None:
            raise ConfigError(
                f"-H/--host {options.host!r} is not a valid host: {problem}; "
                "give one like http://127.0.0.1:8000."
            )
    elif options.host is None:  # -H overrides every class's host: theirs are unused then
        _check_class_hosts(http_classes)
    _check_tasks_left(env, options)


def _check_load(options: Options) -> None:
    if options.num_users is not None and options.num_users < 0:
        raise ConfigError(f"-u/--users must be 0 or more, got {options.num_users}.")
    rate = options.spawn_rate
    if rate is not None and not (rate > 0 and math.isfinite(rate)):  # `not >`: also nan
        raise ConfigError(
            f"-r/--spawn-rate must be above 0 users per second and finite, got {rate:g}."
        )


def _check_times(options: Options) -> None:
    if options.run_time is not None and not (options.run_time > 0):
        raise ConfigError("-t/--run-time must be above 0; leave it out to run until Ctrl-C.")
    if not (options.stop_timeout >= 0 and math.isfinite(options.stop_timeout)):
        raise ConfigError(
            f"-s/--stop-timeout must be 0 or more seconds, got {options.stop_timeout:g}."
        )
    if options.autoquit < -1:
        raise ConfigError(
            f"--autoquit must be 0 or more seconds (or -1 to keep serving), got {options.autoquit}."
        )


def _check_ranges(options: Options) -> None:
    if not 0 <= options.exit_code_on_error <= _MAX_EXIT_CODE:
        raise ConfigError(
            f"--exit-code-on-error must be an exit code from 0 to {_MAX_EXIT_CODE}, "
            f"got {options.exit_code_on_error}."
        )
    if options.max_stats_rows < 1:
        raise ConfigError(f"--max-stats-rows must be at least 1, got {options.max_stats_rows}.")
    for flag, size in (
        ("--max-body-size", options.max_body_size),
        ("--max-decoded-size", options.max_decoded_size),
    ):
        if size < 1:
            raise ConfigError(f"{flag} must be at least 1 byte, got {size}.")
    for flag, port in (
        ("--master-port", options.master_port),
        ("--master-bind-port", options.master_bind_port),
    ):
        if not 1 <= port <= _MAX_PORT:
            raise ConfigError(f"{flag} must be a port from 1 to {_MAX_PORT}, got {port}.")
    if options.expect_workers < 1:
        raise ConfigError(f"--expect-workers must be at least 1, got {options.expect_workers}.")
    if options.expect_workers_max_wait < 0:
        raise ConfigError(
            "--expect-workers-max-wait must be 0 (wait forever) or more seconds, "
            f"got {options.expect_workers_max_wait}."
        )


def _check_tags(flag: str, tags: Sequence[str] | None, *, allow_empty: bool) -> None:
    if tags is None:
        return
    if not tags and not allow_empty:
        raise ConfigError(f"{flag} needs at least one tag; leave it out to run every task.")
    for name in tags:
        if not name.strip():
            raise ConfigError(f"{flag} has an empty tag; give tag names, e.g. {flag[:2]} slow.")
        if any(character.isspace() for character in name):
            raise ConfigError(
                f"{flag} tag {name!r} contains whitespace; give each tag as its own value, "
                f"e.g. {flag[:2]} {' '.join(name.split())}."
            )


def _check_outputs(options: Options) -> None:
    if options.stats_history_enabled and not options.csv_prefix:
        raise ConfigError("--csv-full-history needs --csv PREFIX to know where to write.")
    if options.csv_prefix:
        _check_writable(Path(f"{options.csv_prefix}_stats.csv"), "--csv")
    for flag, path in (("--json-file", json_path(options)), ("--html", html_path(options))):
        if path is not None:
            _check_writable(path, flag)


def _check_writable(path: Path, flag: str) -> None:
    if path.is_dir():
        raise ConfigError(f"Cannot write {path}: it is a folder; change {flag}.")
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"Cannot write {path}: the folder {folder} {what}; create it or change {flag}."
        )


def _check_web(options: Options) -> None:
    if not 0 <= options.web_port <= _MAX_PORT:
        raise ConfigError(
            f"-P/--web-port must be a port from 1 to {_MAX_PORT} (or 0 for any free one), "
            f"got {options.web_port}."
        )
    host = options.web_host
    if any(character.isspace() for character in host) or "/" in host:
        raise ConfigError(
            f"--web-host {host!r} is not an interface address; give one like 127.0.0.1, "
            "0.0.0.0 or * (every interface)."
        )


def _check_class_hosts(user_classes: Iterable[type]) -> None:
    for cls in user_classes:
        host = getattr(cls, "host", None)
        if host is None or host == "":  # no host: requests need absolute URLs (or -H)
            continue
        problem = host_problem(host) if isinstance(host, str) else "it is not a string"
        if problem is not None:
            raise ConfigError(
                f"{cls.__name__}.host {host!r} is not a valid host: {problem}; fix the "
                "class's host or give one with -H/--host."
            )


def _check_tasks_left(env: Environment, options: Options) -> None:
    if not env.task_filter.active:
        return
    everything = TagFilter()
    with_tasks = [cls for cls in env.user_classes if everything.table(cls)]
    if not with_tasks or any(env.task_filter.table(cls) for cls in with_tasks):
        return
    given = []
    if options.tags is not None:
        given.append(f"-T/--tags {' '.join(options.tags)}")
    if options.exclude_tags:
        given.append(f"-E/--exclude-tags {' '.join(options.exclude_tags)}")
    known = sorted(_tags_of(with_tasks))
    found = f"the tags in use are {', '.join(known)}" if known else "no task has a tag"
    raise ConfigError(
        f"{' with '.join(given)} leaves no task to run in any User class ({found}); check the tags."
    )


def _tags_of(classes: Iterable[type]) -> set[str]:
    everything = TagFilter()
    tags: set[str] = set()
    seen: set[type] = set()
    pending = list(classes)
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        tags |= holder_tags(cls, frozenset())
        for entry, _ in everything.table(cls):
            if is_task_holder(entry):
                pending.append(entry)
            else:
                tags |= set(getattr(entry, TAGS_ATTR, ()))
    return tags


def arrival_plan_of(options: Options, locustfile: Locustfile) -> ArrivalPlan | None:
    """The open model's plan from `--arrival-rate`/`--arrival-stages` or an ArrivalShape.

    None for the closed model. `--max-users` defaults to `-u` when given, else to
    `DEFAULT_MAX_USERS`; the command line's stages win over an ArrivalShape's.

    Raises:
        ConfigError: an arrival rate beside a LoadTestShape, `--max-users` below 1 or
            below `-u`, a negative `--backlog-timeout`, or a constant rate of 0.
    """
    shape = locustfile.arrival_shape
    given = options.arrival_rate is not None or bool(options.arrival_stages)
    if not given and shape is None:
        if options.max_users is not None:
            raise ConfigError(
                "--max-users only applies to an arrival rate; give --arrival-rate or "
                "--arrival-stages, or use -u for the closed model."
            )
        return None
    if locustfile.shape_class is not None:
        source = (
            "--arrival-rate/--arrival-stages"
            if given or shape is None
            else f"{shape.__name__} (an ArrivalShape)"
        )
        raise ConfigError(
            f"{source} cannot run with {locustfile.shape_class.__name__} (a LoadTestShape); "
            "choose one load model."
        )
    if options.max_users is not None and options.max_users < 1:
        raise ConfigError(f"--max-users must be at least 1, got {options.max_users}.")
    users = options.num_users
    max_users = options.max_users
    if max_users is None and not given and shape is not None and shape.max_users is not None:
        max_users = int(shape.max_users)
    if max_users is None:
        max_users = users if users else DEFAULT_MAX_USERS
    if users is not None and users > max_users:
        raise ConfigError(
            f"-u/--users {users} is above --max-users {max_users}; the users started first "
            "count towards the maximum, so raise --max-users or lower -u."
        )
    timeout = options.backlog_timeout
    if not (math.isfinite(timeout) and timeout >= 0):
        raise ConfigError(f"--backlog-timeout must be 0 or more seconds, got {timeout:g}.")
    if given:
        start = options.arrival_rate or 0.0
        stages = tuple(options.arrival_stages or ())
    else:
        assert shape is not None
        start = float(shape.start_rate)
        stages = tuple((float(d), float(r)) for d, r in shape.stages)
        if not stages:
            raise ConfigError(
                f"{shape.__name__} (an ArrivalShape) has no stages; set "
                "stages = [(seconds, rate per second), ...]."
            )
    try:
        return ArrivalPlan(start, stages, max_users=max_users, backlog_timeout=timeout)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
