"""The `loadhopper` command: subcommands, the two-pass parse, the headless run, exit codes.

Exit codes (docs/cli.md keeps the user-facing list):

- 0: the test ran and nothing failed (or a listener set `environment.process_exit_code`).
- `--exit-code-on-error` (default 1): there were failed requests or user-code exceptions.
- 1: the locustfile cannot be used (missing, fails to import, no User class).
- 2: a usage or config error (unknown flag, bad value, a feature not available yet), or an
  output file that could not be written.
- 99: a threshold failed (`--threshold`, or the locustfile's `thresholds`), as k6's
  ThresholdsHaveFailed; also when `--threshold-abort` stopped the test.
- 98: a `--fail-on` condition held against `--baseline` (also `loadhopper compare`'s code).
- 70: loadhopper itself failed during the run (an internal error, logged with its
  traceback); the results so far are still written. 70 is sysexits.h's EX_SOFTWARE.
- 130: Ctrl-C before the test started (once it runs, Ctrl-C stops it and the codes above
  apply).

When several apply, the first of these wins: 70 (loadhopper failed), a listener's
`environment.process_exit_code`, 2 (an output file could not be written), 99 (a threshold
failed), 98 (a `--fail-on` condition held), `--exit-code-on-error` (failed requests or
exceptions), 0.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from loadhopper import __version__
from loadhopper._exceptions import ConfigError, LocustfileError
from loadhopper.cli._compare import EXIT_REGRESSED
from loadhopper.cli._distributed import distributed_runner
from loadhopper.cli._headless import run_headless
from loadhopper.cli._logging import setup_logging
from loadhopper.cli._options import Options, parse_options
from loadhopper.cli._outputs import Outputs
from loadhopper.cli._parser import build_parser
from loadhopper.cli._task_ratio import format_task_ratios, task_ratio_json
from loadhopper.cli._validation import arrival_plan_of, check_options, check_run
from loadhopper.distributed import MasterRunner
from loadhopper.http import BodyLimits, connect_port_range, parse_local_ips, port_budget_warning
from loadhopper.report import RunInfo, report_spectra
from loadhopper.runtime import (
    Environment,
    Locustfile,
    ThresholdWatch,
    events,
    install_locust_alias,
    load_locustfile,
    uninstall_locust_alias,
)
from loadhopper.runtime._library import library_scope
from loadhopper.stats import StatsSnapshot, Threshold, ThresholdResult, parse_threshold
from loadhopper.user import User

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LOCUSTFILE",
    "EXIT_OK",
    "EXIT_THRESHOLDS",
    "EXIT_USAGE",
    "main",
    "prepare",
    "run_script",
    "run_test",
]

logger = logging.getLogger("loadhopper.main")

EXIT_OK = 0
EXIT_LOCUSTFILE = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # sysexits.h's EX_SOFTWARE: an internal software error
EXIT_THRESHOLDS = 99  # k6's ThresholdsHaveFailed (errext/exitcodes), for those who move over
EXIT_INTERRUPTED = 130  # the shell's convention for a process ended by SIGINT


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `loadhopper` command line and return its exit code.

    The console script (`loadhopper = loadhopper.cli:main`) passes the return value to
    `sys.exit`, as setuptools' generated wrapper does.

    Args:
        argv: the arguments without the program name (default: `sys.argv[1:]`).

    Returns:
        The process exit code (see the module docstring).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["cats"]:
        return _subcommand("loadhopper.demo", "cats_main", args[1:])
    if args[:1] == ["demo"]:
        return _subcommand("loadhopper.cli._demo", "demo_main", args[1:])
    if args[:1] == ["compare"]:
        return _subcommand("loadhopper.cli._compare", "compare_main", args[1:])
    if args[:1] == ["run-script"]:
        return run_script(args[1:])
    try:
        return _run(args)
    except ConfigError as exc:
        _fail(exc)
        return EXIT_USAGE
    except LocustfileError as exc:
        _fail(exc)
        return EXIT_LOCUSTFILE
    except KeyboardInterrupt:  # Ctrl-C before the test started (e.g. a slow locustfile import)
        print("loadhopper: interrupted before the test started.", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(exc: Exception) -> None:
    print(f"loadhopper: {exc}", file=sys.stderr)


# The cats site's own packages: the `demo` extra, which a load test never needs.
_DEMO_PACKAGES = frozenset({"apsw", "fasthtml", "fastlite"})


def _subcommand(module_name: str, function: str, args: list[str]) -> int:
    # Imported lazily: the cats site pulls in its web stack, which a load test never needs.
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in _DEMO_PACKAGES:
            print(
                f"loadhopper: the cats site needs the `demo` extra ({exc.name} is missing): "
                "run `pip install 'loadhopper[demo]'`, or `./dev demo` from a checkout.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        if exc.name != module_name:
            raise
        print(f"loadhopper: `{module_name}` is not available yet in this version.", file=sys.stderr)
        return EXIT_USAGE
    entry: Any = getattr(module, function)
    return int(entry(args))


_RUN_SCRIPT_USAGE = "usage: loadhopper run-script SCRIPT.py [ARGS ...]"


def run_script(args: Sequence[str]) -> int:
    """`loadhopper run-script SCRIPT.py [ARGS ...]`: run a script that uses Locust's API.

    The script runs as `__main__` with `sys.argv` set to `[SCRIPT.py, *ARGS]` and its
    folder first on `sys.path`, as `python SCRIPT.py ARGS` would run it, with two
    differences: `import locust` (and `gevent`) give loadhopper's names, and the script runs
    in library mode (`runtime/_library.py`), its blocking calls running loadhopper's loop.

    Returns:
        The script's exit code: 0 when it ends, its `sys.exit()` code, 1 (with the
        traceback on stderr) when it raises, 2 when it cannot be found, 130 on Ctrl-C.
    """
    if not args or args[0] in ("-h", "--help"):
        print(_RUN_SCRIPT_USAGE, file=sys.stderr if not args else sys.stdout)
        return EXIT_USAGE if not args else EXIT_OK
    script = Path(args[0])
    if not script.is_file():
        print(
            f"loadhopper: run-script: {script} does not exist; give the path of a Python script.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    saved_argv, saved_path = sys.argv, list(sys.path)
    previous = install_locust_alias()
    sys.argv = [str(script), *args[1:]]
    sys.path.insert(0, str(script.resolve().parent))
    try:
        with library_scope():
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return _exit_code_of(exc)
    except KeyboardInterrupt:
        print("loadhopper: run-script: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BaseException as exc:
        _print_script_traceback(exc, script)
        return EXIT_LOCUSTFILE
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        uninstall_locust_alias(previous)
    return EXIT_OK


def _exit_code_of(exc: SystemExit) -> int:
    # As the interpreter does: None is 0, an int is itself, anything else is printed.
    code = exc.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _print_script_traceback(exc: BaseException, script: Path) -> None:
    """The traceback from the script's first frame on, as `python SCRIPT.py` shows it."""
    tb: TracebackType | None = exc.__traceback__
    target = os.path.realpath(script)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb or exc.__traceback__, file=sys.stderr)


def _run(args: list[str]) -> int:
    parser = build_parser()
    first = parse_options(args, parser, strict=False)
    if first.version:
        print(f"loadhopper {__version__}")
        return EXIT_OK
    if not first.skip_log_setup:
        setup_logging(first.loglevel, first.logfile)
    try:
        locustfile = load_locustfile(first.locustfile)
    except LocustfileError:
        if first.help:  # help must work without a locustfile (it then lacks custom flags)
            parser.print_help()
            return EXIT_OK
        raise
    # Locustfile listeners add their own flags; only then can everything be parsed.
    events.init_command_line_parser.fire(parser=parser)
    options = parse_options(args, parser, strict=True)
    if options.help:
        parser.print_help()
        return EXIT_OK
    changed = (options.loglevel, options.logfile) != (first.loglevel, first.logfile)
    if not options.skip_log_setup and changed:
        setup_logging(options.loglevel, options.logfile)
    # The locustfile's declared thresholds come first, then the command line's; all are
    # parsed now, so that a malformed one is a usage error before anything starts.
    options = dataclasses.replace(options, thresholds=locustfile.thresholds + options.thresholds)
    _parse_thresholds(options.thresholds)
    env = prepare(locustfile, options)
    if options.list_commands:
        print("\n".join(cls.__name__ for cls in env.user_classes))
        return EXIT_OK
    if options.show_task_ratio_json:
        sys.stdout.write(task_ratio_json(env))
        return EXIT_OK
    if options.show_task_ratio:
        sys.stdout.write(format_task_ratios(env))
        return EXIT_OK
    return run_test(env, options, args)


def prepare(locustfile: Locustfile, options: Options) -> Environment:
    """Check the options and build the run's Environment (`loadhopper demo` shares this).

    Every option is checked here, before anything starts (see `_validation.py`), and so
    are the hosts of the chosen User classes.

    Raises:
        ConfigError: the options do not make a runnable test.
        LocustfileError: a user class named on the command line is not in the locustfile.
    """
    check_options(options)
    env = _environment(locustfile, options)
    check_run(env, options)
    return env


def run_test(env: Environment, options: Options, argv: Sequence[str] = ()) -> int:
    """Run the test headless or in the web UI, as the options say; return the exit code.

    With `--processes` or `--ray` the runner is a master over workers (see
    `_distributed.py`); `argv` is what a Ray worker parses to become a copy of this run.
    """
    if options.ray is None and not options.worker and options.num_users:
        # One machine makes every connection (with --processes too): warn before the ramp
        # runs into the kernel's port search (see `http/_source.py`).
        warning = port_budget_warning(options.num_users, env.source_addresses, connect_port_range())
        if warning is not None:
            logger.warning(warning)
    if options.processes is not None or options.ray is not None:
        # Before anything else: --processes forks here, before any event loop exists.
        env.runner = distributed_runner(env, options, argv)
    if options.headless:
        return _headless(env, options)
    return _web(env, options)


def _parse_thresholds(texts: Sequence[str]) -> tuple[Threshold, ...]:
    """Parse every threshold expression (see `loadhopper.stats._thresholds`).

    Raises:
        ConfigError: one is malformed (the message names it and what was expected).
    """
    try:
        return tuple(parse_threshold(text) for text in texts)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _threshold_watch(options: Options) -> ThresholdWatch | None:
    thresholds = _parse_thresholds(options.thresholds)
    if not thresholds:
        if options.threshold_abort:
            logger.warning("--threshold-abort has no effect: no threshold was given.")
        return None
    return ThresholdWatch(
        thresholds, abort=options.threshold_abort, abort_delay=options.threshold_abort_delay
    )


def _select(locustfile: Locustfile, names: Sequence[str], shown: str) -> list[type[User]]:
    classes = list(locustfile.user_classes)
    if not names:
        return classes
    by_name = {cls.__name__: cls for cls in classes}
    for name in names:
        if name not in by_name:
            found = ", ".join(by_name)
            raise LocustfileError(f"no User class named {name!r} in {shown} (found: {found})")
    return [by_name[name] for name in dict.fromkeys(names)]


def _environment(locustfile: Locustfile, options: Options) -> Environment:
    shape = locustfile.shape_class
    if shape is not None and not shape.use_common_options:
        given = options.num_users is not None or options.spawn_rate is not None
        if given or options.run_time is not None:
            # As Locust: a load shape decides users, spawn rate and the end by itself.
            logger.warning(
                "%s (a LoadTestShape) sets the users, spawn rate and run time; "
                "-u, -r and -t are ignored.",
                shape.__name__,
            )
    env = Environment(
        user_classes=_select(locustfile, options.user_classes, options.locustfile),
        shape_class=shape,
        tags=options.tags,
        exclude_tags=options.exclude_tags,
        events=events,
        host=options.host,
        reset_stats=options.reset_stats,
        stop_timeout=options.stop_timeout,
        parsed_options=options.as_namespace(),
        template_names=not options.no_url_templating,
        max_stats_rows=options.max_stats_rows,
        strict_locust=options.strict_locust,
        body_limits=BodyLimits(
            max_body_size=options.max_body_size, max_decoded_size=options.max_decoded_size
        ),
        source_addresses=None if options.local_ips is None else parse_local_ips(options.local_ips),
    )
    if options.equal_weights:
        env.assign_equal_weights()
    env.arrival_plan = arrival_plan_of(options, locustfile)
    return env


def _headless(env: Environment, options: Options) -> int:
    watch = _threshold_watch(options)
    outputs = Outputs(options, env.stats.percentiles)
    outputs.start()
    runner = env.runner or env.create_local_runner()
    events.init.fire(environment=env, runner=runner, web_ui=None)
    if watch is not None:
        # On the merged data in a master: its window listeners fire once its workers'
        # windows are merged into env.stats.
        watch.attach(runner)
    result = run_headless(env, options, outputs)
    events.quitting.fire(reverse=True, environment=env)
    run = result.run
    if watch is not None:
        verdicts = watch.finish(env.stats, result.snapshot, run.end_time)
        run = dataclasses.replace(run, thresholds=verdicts)
    code = _conclude(env, options, outputs, result.snapshot, run)
    return EXIT_INTERNAL if result.internal_error is not None else code


def _conclude(
    env: Environment, options: Options, outputs: Outputs, snapshot: StatsSnapshot, run: RunInfo
) -> int:
    """Write the final outputs and decide the exit code (after `events.quitting`)."""
    failed = [result for result in run.thresholds if not result.passed]
    if env.process_exit_code is not None:
        code = int(env.process_exit_code)
    elif failed:
        code = EXIT_THRESHOLDS
    elif snapshot.total.num_failures or snapshot.exceptions:
        code = options.exit_code_on_error
    else:
        code = EXIT_OK
    if isinstance(env.runner, MasterRunner):
        outputs.workers = env.runner.workers
    if outputs.html_path is not None:
        outputs.spectra = report_spectra(env.stats)  # the HTML report's distribution chart
    written = outputs.finish(snapshot, run)
    if outputs.regressed and env.process_exit_code is None and not failed:
        # `--fail-on` held against `--baseline`: below thresholds, above failed requests.
        code = EXIT_REGRESSED
    if not written and env.process_exit_code is None:
        code = EXIT_USAGE
    _log_thresholds(run.thresholds, failed)
    logger.info("Shutting down (exit code %d)", code)
    events.quit.fire(exit_code=code)
    return code


def _log_thresholds(results: Sequence[ThresholdResult], failed: Sequence[ThresholdResult]) -> None:
    """One line per failed threshold (the summary table is the reports')."""
    for result in failed:
        row = f" on {result.row}" if result.row else ""
        if result.value is None:
            logger.warning(
                "Threshold %r failed%s: no data to judge %s (%s).",
                result.expression,
                row,
                result.metric,
                result.reason or "nothing was measured",
            )
            continue
        logger.warning(
            "Threshold %r failed%s: %s was %s (limit %s %s).",
            result.expression,
            row,
            result.metric,
            result.value_text,
            result.operator,
            result.limit_text,
        )
    if results and not failed:
        logger.info("All %d thresholds passed.", len(results))


def _web(env: Environment, options: Options) -> int:
    """Serve the web UI until Ctrl-C (or --autoquit); the exit code follows the last test."""
    # Imported here: a headless run never needs Starlette and uvicorn.
    from loadhopper.cli._web_mode import run_web_mode, web_login_of
    from loadhopper.web._extension import WebExtensions

    login = web_login_of(options.web_login)  # a bad value is a usage error before anything
    watch = _threshold_watch(options)
    outputs = Outputs(options, env.stats.percentiles)
    outputs.start()
    runner = env.runner or env.create_local_runner()
    # Locust hands its Flask app to init listeners; ours takes their routes and tabs through
    # the same `web_ui.app.route` decorator (web/_extension.py), on Starlette.
    web_ui = WebExtensions(env)
    env.web_ui = web_ui  # Locust's examples test `environment.web_ui`
    events.init.fire(environment=env, runner=runner, web_ui=web_ui)
    try:
        result = run_web_mode(env, options, outputs, login=login, watch=watch, web_ui=web_ui)
    except ConfigError:
        raise
    except Exception:
        logger.exception("The web UI ended with an internal error.")
        return EXIT_INTERNAL
    events.quitting.fire(reverse=True, environment=env)
    if result.finished is None:
        code = EXIT_OK if env.process_exit_code is None else int(env.process_exit_code)
        logger.info("No test was run; shutting down (exit code %d)", code)
        events.quit.fire(exit_code=code)
        return code
    finished = result.finished
    run = finished.run
    if watch is not None:
        # Once more on the final statistics (the UI showed them live during the test).
        verdicts = watch.finish(env.stats, finished.snapshot, run.end_time)
        run = dataclasses.replace(run, thresholds=verdicts)
    code = _conclude(env, options, outputs, finished.snapshot, run)
    if result.error is not None and env.process_exit_code is None:
        return EXIT_USAGE  # loadhopper itself failed during the test (logged with its traceback)
    return code
