"""`loadhopper demo`: the cats site, loaded by the demo locustfile, checked, in one command.

What it does, in order: makes a new report folder; starts the cats site on a free loopback
port in a child process, on a fresh database; runs the demo locustfile against it headless
through the same path as `loadhopper --headless` (live table, summary, CSV, JSON and HTML
files) or, with `--web`, in the web UI through the same path as `loadhopper --autostart`;
counts the site's rows and checks them against what the load created and deleted; stops the
site (always, also on Ctrl-C or SIGTERM); names the report folder.

The demo ignores `locust.conf`, `loadhopper.conf`, `pyproject.toml` and `LOCUST_*` /
`LOADHOPPER_*` variables: it is a fixed scenario that must run the same on every machine.

Exit codes: 0 when no request failed and the row count matches; 1 when requests failed or
the count does not match; 2 for a usage error (bad flag, `--out` not empty) or when the site
cannot start; 130 for Ctrl-C before the test started. With `--web` the test can be restarted
from the UI, so the row count is reported but not judged (it covers every test, the
statistics only the last).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from loadhopper._exceptions import ConfigError, LocustfileError
from loadhopper.cli._logging import setup_logging
from loadhopper.cli._main import (
    EXIT_INTERRUPTED,
    EXIT_LOCUSTFILE,
    EXIT_OK,
    EXIT_USAGE,
    prepare,
    run_test,
)
from loadhopper.cli._options import Options, parse_options
from loadhopper.cli._timespan import parse_timespan
from loadhopper.demo import LOCUSTFILE, CatsProcess, start_cats_process
from loadhopper.runtime import load_locustfile
from loadhopper.stats import StatsSnapshot

__all__ = ["DemoSettings", "RowCheck", "demo_main", "row_check"]

DEFAULT_USERS = 50
DEFAULT_RUN_TIME = "30s"
# Users keep their current task for up to this long once the run time is up, so that a request
# in flight is answered and counted: a cancelled POST /create may still add a row that the
# stats never saw, and the row check would then be off by one. Users waiting between tasks
# (most of the time, with the demo's 2-5 s waits) stop at once, so this rarely costs anything.
STOP_TIMEOUT_SECONDS = 10.0
# The names the demo locustfile gives its requests (demo/locustfile.py).
CREATE = ("POST", "/create")
DELETE = ("GET", "/[id]/delete")
# Files a run writes into the report folder, under this prefix, in the order they are named.
PREFIX = "demo"
_REPORT_FILES = (
    f"{PREFIX}_stats.csv",
    f"{PREFIX}_stats_history.csv",
    f"{PREFIX}_failures.csv",
    f"{PREFIX}_exceptions.csv",
    f"{PREFIX}.json",
    f"{PREFIX}.html",
)
EXIT_MISMATCH = 1  # the same code as failed requests: the demo found something wrong


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """The demo's flags, parsed.

    Attributes:
        users: how many users to run.
        spawn_rate: users started per second.
        run_time: the test's length in seconds.
        out: the report folder asked for, or None for a new `./loadhopper-demo-<time>/`.
        web: True to open the web UI instead of a headless run.
        db: the SQLite file for the site (kept), or None for a fresh temporary one.
        web_port: the web UI's port, with `web`.
    """

    users: int
    spawn_rate: float
    run_time: float
    out: Path | None
    web: bool
    db: Path | None
    web_port: int = 8089


@dataclass(frozen=True, slots=True)
class RowCheck:
    """The site's row count against what the load did.

    Attributes:
        before: rows in the database before the test.
        created: successful `POST /create` requests.
        deleted: successful `GET /[id]/delete` requests.
        after: rows in the database after the test.
    """

    before: int
    created: int
    deleted: int
    after: int

    @property
    def expected(self) -> int:
        """The rows there should be: those before, plus created, minus deleted."""
        return self.before + self.created - self.deleted

    @property
    def consistent(self) -> bool:
        """True if the database holds exactly the expected rows."""
        return self.after == self.expected

    def describe(self) -> str:
        """One line for the console, e.g. `cats site: 12 rows; ...: consistent`."""
        did = f"the load created {self.created} and deleted {self.deleted}"
        if self.before:
            did = f"it had {self.before} before, {did}"
        rows = f"{self.after} row{'' if self.after == 1 else 's'}"
        if self.consistent:
            return f"cats site: {rows}; {did}: consistent"
        return (
            f"cats site: {rows}, but {did}, so {self.expected} were expected: "
            "a mismatch; see the failures above, or check the site's database."
        )


def row_check(snapshot: StatsSnapshot, before: int, after: int) -> RowCheck:
    """Compare the site's rows with the successful creates and deletes in `snapshot`."""
    successes = {
        (row.method, row.name): row.num_requests - row.num_failures for row in snapshot.rows
    }
    return RowCheck(before, successes.get(CREATE, 0), successes.get(DELETE, 0), after)


def demo_main(argv: list[str]) -> int:
    """Run `loadhopper demo` and return its exit code (see the module docstring).

    Args:
        argv: the arguments after `loadhopper demo`.
    """
    try:
        settings = _parse(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    made = settings.out is None or not settings.out.exists()
    try:
        folder = report_folder(settings.out, Path.cwd(), time.localtime())
    except ConfigError as exc:
        _say(str(exc), sys.stderr)
        return EXIT_USAGE
    try:
        with _sigterm_interrupts():
            return _demo(settings, folder)
    except (ConfigError, RuntimeError) as exc:  # RuntimeError: the site did not start
        _say(str(exc), sys.stderr)
        return EXIT_USAGE
    except LocustfileError as exc:
        _say(str(exc), sys.stderr)
        return EXIT_LOCUSTFILE
    except KeyboardInterrupt:
        _say("interrupted; the cats site is stopped.", sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if made:  # a demo that stopped before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()  # only ever removes an empty folder


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadhopper demo",
        description=(
            "Start the cats site, load it with the demo locustfile, print the statistics, "
            "write the reports and check the site's rows."
        ),
    )
    parser.add_argument(
        "-u", "--users", type=_positive_int, default=DEFAULT_USERS, help="users (default 50)"
    )
    parser.add_argument(
        "-r",
        "--spawn-rate",
        type=_positive_float,
        help="users started per second (default: all users in the first second)",
    )
    parser.add_argument(
        "-t",
        "--run-time",
        type=_timespan,
        default=parse_timespan(DEFAULT_RUN_TIME),
        help="how long to run, e.g. 30s, 2m (default 30s)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="report folder: new or empty (default: a new ./loadhopper-demo-DATE-TIME/)",
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="run the test in the web UI (http://127.0.0.1:8089) instead; Ctrl-C ends the demo",
    )
    parser.add_argument(
        "--web-port",
        type=_positive_int,
        default=8089,
        help="with --web: the web UI's port (default 8089)",
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        type=Path,
        help="SQLite file for the site, kept afterwards (default: a fresh temporary one)",
    )
    return parser


def _parse(argv: list[str]) -> DemoSettings:
    args = _parser().parse_args(argv)
    users: int = args.users
    rate: float | None = args.spawn_rate
    return DemoSettings(
        users=users,
        spawn_rate=float(users) if rate is None else rate,
        run_time=args.run_time,
        out=args.out,
        web=args.web,
        db=args.db,
        web_port=args.web_port,
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of users: use 1 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate: use a number above 0")
    return value


def _timespan(text: str) -> float:
    try:
        seconds = parse_timespan(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is no time at all: use e.g. 30s or 2m")
    return seconds


def report_folder(out: Path | None, cwd: Path, now: time.struct_time) -> Path:
    """Create the report folder and return it; never reuse one that holds files.

    Args:
        out: the folder asked for (`--out`), or None for `loadhopper-demo-DATE-TIME` in `cwd`,
            with `-2`, `-3`, ... added when that name is taken.
        cwd: where the default folder goes.
        now: the time in the default folder's name.

    Raises:
        ConfigError: `out` is a file, or a folder that is not empty, or cannot be created.
    """
    if out is not None:
        if out.is_dir() and any(out.iterdir()):
            raise ConfigError(
                f"--out {out} is a folder that already holds files; "
                "give a new or empty folder, or leave --out out for a new one."
            )
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create --out {out} ({exc.strerror}); pick another."
            ) from None
        return out
    base = cwd / time.strftime("loadhopper-demo-%Y%m%d-%H%M%S", now)
    for attempt in range(1, 1000):
        folder = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            folder.mkdir()  # exist_ok=False: the atomic claim of a fresh name
        except FileExistsError:
            continue
        except OSError as exc:
            raise ConfigError(
                f"Cannot create {folder} ({exc.strerror}); run from a writable folder or use --out."
            ) from None
        return folder
    raise ConfigError(f"Too many report folders named {base.name}-N; use --out.")


def _demo(settings: DemoSettings, folder: Path) -> int:
    # The ExitStack stops the site first, then removes its temporary folder: on success, on
    # an error, and on Ctrl-C or SIGTERM alike.
    with contextlib.ExitStack() as stack:
        db = settings.db
        if db is None:
            # Our own temporary folder rather than the site's: the rows can still be counted
            # if Ctrl-C in a terminal (which reaches the child too) has already stopped the site.
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="loadhopper-demo-"))
            db = Path(tmp) / "cats.db"
        site = stack.enter_context(start_cats_process(db))
        _say(f"cats site on {site.url} (pid {site.pid}); loading it with {_load(settings)}")
        before = site.count()
        code, snapshot = _run_test(settings, site, folder)
        _interrupt_on_sigterm()  # the run removed its signal handlers; keep the stop reachable
        check = None if snapshot is None else row_check(snapshot, before, site.count())
    if check is None:
        return code
    _say(check.describe())
    _say(f"report folder: {_shown(folder)} ({', '.join(_written(folder))})")
    if code == EXIT_OK and not check.consistent and not settings.web:
        return EXIT_MISMATCH
    return code


def _run_test(
    settings: DemoSettings, site: CatsProcess, folder: Path
) -> tuple[int, StatsSnapshot | None]:
    """Run the demo locustfile (headless, or in the web UI with `--web`); return the exit
    code and the final statistics."""
    prefix = str(folder / PREFIX)
    mode = "--autostart" if settings.web else "--headless"
    args = [
        "-f", str(LOCUSTFILE), mode, "-H", site.url,
        "-u", str(settings.users), "-r", repr(settings.spawn_rate),
        "-t", f"{settings.run_time!r}s", "--stop-timeout", repr(STOP_TIMEOUT_SECONDS),
        "--csv", prefix, "--json-file", prefix, "--html", f"{prefix}.html",
        "--web-port", str(settings.web_port),
    ]  # fmt: skip
    # The fresh, empty report folder stands in for the current and home folders, so that no
    # config file of the machine's changes the scenario; no environment variables either.
    options: Options = parse_options(args, environ={}, cwd=folder, home=folder)
    setup_logging(options.loglevel, options.logfile)
    env = prepare(load_locustfile(options.locustfile), options)
    code = run_test(env, options)  # headless, or the web UI with --autostart
    if code == EXIT_USAGE:
        return code, None  # loadhopper itself failed (logged): nothing worth checking
    return code, env.stats.snapshot(time.time())


def _load(settings: DemoSettings) -> str:
    users = f"{settings.users} user{'s' if settings.users != 1 else ''}"
    return f"{users} for {settings.run_time:g} s (spawn rate {settings.spawn_rate:g}/s)."


def _written(folder: Path) -> list[str]:
    present = {path.name for path in folder.iterdir()}
    named = [name for name in _REPORT_FILES if name in present]
    return named + sorted(present.difference(named))


def _shown(folder: Path) -> str:
    # Relative to where the user stands when it is below it: the line is meant to be copied.
    with contextlib.suppress(ValueError):
        return f".{os.sep}{folder.resolve().relative_to(Path.cwd().resolve())}{os.sep}"
    return f"{folder}{os.sep}"


def _say(sentence: str, stream: TextIO | None = None) -> None:
    print(f"loadhopper demo: {sentence}", file=stream or sys.stdout, flush=True)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Make SIGTERM raise KeyboardInterrupt inside, so that the site is stopped on the way out.

    The default would end the process at once and leave the site running, orphaned.
    """
    previous = signal.getsignal(signal.SIGTERM)
    _interrupt_on_sigterm()
    try:
        yield
    finally:
        # None: a handler not set from Python; the default is the closest to put back.
        with contextlib.suppress(ValueError):  # not the main thread: nothing was changed
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _interrupt_on_sigterm() -> None:
    # Called again after the headless run, which installs its own handlers (a gentle stop)
    # and, when it ends, leaves the default behind rather than what was there before.
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread: the caller owns signals then
        signal.signal(signal.SIGTERM, interrupt)
