"""The web-UI run: `loadhopper` without `--headless` serves the UI and waits for tests.

Everything runs on one uvloop event loop: the uvicorn server, the tests the UI starts, the
one-second windows. The process ends on Ctrl-C or SIGTERM (the first signal stops a running
test gracefully and then quits; a second one cancels it at once), or `--autoquit N` seconds
after an `--autostart` test has ended. The outputs the flags ask for (`--csv` history while
tests run; the summary, CSV, JSON and HTML files at the end) describe the last test, as in a
headless run.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from dataclasses import dataclass

from loadhopper.cli._distributed import close_workers
from loadhopper.cli._headless import DEFAULT_SPAWN_RATE, DEFAULT_USERS
from loadhopper.cli._options import Options
from loadhopper.cli._otel import OtelExport
from loadhopper.cli._outputs import Outputs, _locustfile_source
from loadhopper.cli._parser import build_parser
from loadhopper.distributed import MasterRunner
from loadhopper.runtime import Environment, ThresholdWatch, new_event_loop
from loadhopper.web import (
    FinishedTest,
    StartParameters,
    WebController,
    WebLogin,
    WebServer,
    create_app,
)
from loadhopper.web._extension import WebExtensions
from loadhopper.web._forms import custom_options
from loadhopper.web._logs import LogBuffer
from loadhopper.web._parameters import CustomOption

__all__ = ["DEFAULT_WEB_HOST", "WebModeResult", "run_web_mode", "web_login_of"]

logger = logging.getLogger(__name__)

# Loopback by default: Locust binds every interface with no login (reference/locust.md §5
# item 10), which lets anyone on the network point load anywhere.
DEFAULT_WEB_HOST = "127.0.0.1"
# The names a browser on this machine uses for a loopback-bound UI (Host header check).
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_PERIODIC_SECONDS = 2.0  # as the headless console table


@dataclass(frozen=True, slots=True)
class WebModeResult:
    """What a web-mode process leaves behind.

    Attributes:
        finished: the last test that ran, or None when none was started.
        error: the last test's unexpected error (a loadhopper bug), or None.
    """

    finished: FinishedTest | None
    error: str | None


def web_login_of(value: bool | str) -> WebLogin | None:
    """The login `--web-login` asks for: none, a random password, or `USER:PASSWORD`."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("", "false")):
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() == "true"):
        return WebLogin.generate()
    return WebLogin.parse(str(value))


def _bind_host(web_host: str) -> str:
    if not web_host:
        return DEFAULT_WEB_HOST
    return "0.0.0.0" if web_host == "*" else web_host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _defaults(options: Options) -> StartParameters:
    return StartParameters(
        users=options.num_users if options.num_users is not None else DEFAULT_USERS,
        spawn_rate=options.spawn_rate if options.spawn_rate is not None else DEFAULT_SPAWN_RATE,
        host=options.host,
        run_time=options.run_time,
    )


def _custom_options(env: Environment) -> tuple[CustomOption, ...]:
    """The locustfile's own options for the start form (Locust's built-in ones left out)."""
    # The parser the command line used is gone by now; as Locust's UI does to list these
    # (argument_parser.ui_extra_args_dict), build one and let the listeners add to it again.
    builtin = {action.dest for action in build_parser()._actions}
    parser = build_parser()
    env.events.init_command_line_parser.fire(parser=parser)
    added = [action for action in parser._actions if action.dest not in builtin]
    return custom_options(added, env.parsed_options)


class _Quitter:
    """Decides when the process ends: signals, `--autoquit`, and a test's end after a signal."""

    def __init__(self, controller: WebController) -> None:
        self.controller = controller
        self.done = asyncio.Event()
        self.signals = 0

    def on_signal(self, signum: int) -> None:
        self.signals += 1
        name = signal.Signals(signum).name
        if self.signals > 1:
            logger.warning("%s received again: stopping at once.", name)
            self.controller.cancel()
            self.done.set()
        elif self.controller.running:
            logger.info("%s received: stopping the test, then quitting.", name)
            self.controller.quit()
            self.controller.test_end_listeners.append(lambda _: self.done.set())
        else:
            logger.info("%s received: quitting.", name)
            self.done.set()

    def quit_after(self, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self.done.set)


async def _print_periodically(controller: WebController, outputs: Outputs) -> None:
    while True:
        await asyncio.sleep(_PERIODIC_SECONDS)
        if controller.running:
            outputs.print_periodic(controller.snapshot())


def _announce(server: WebServer, login: WebLogin | None, host: str) -> None:
    print(f"web UI on {server.url}", flush=True)
    if login is not None and login.generated:
        print(f"log in as {login.user} with password {login.password}", flush=True)
    elif login is not None:
        print(f"log in as {login.user} (--web-login)", flush=True)
    if not _is_loopback(host) and login is None:
        logger.warning(
            "The web UI listens on %s without --web-login: anyone who can reach it can start "
            "load against any host. Add --web-login USER:PASSWORD.",
            host,
        )


async def _serve(
    env: Environment,
    options: Options,
    outputs: Outputs,
    login: WebLogin | None,
    watch: ThresholdWatch | None,
    web_ui: WebExtensions | None,
) -> WebModeResult:
    host = _bind_host(options.web_host)
    plan = env.arrival_plan
    controller = WebController(
        env,
        locustfile=options.locustfile,
        locustfile_source=_locustfile_source(options.locustfile),
        full_history=options.stats_history_enabled,
        defaults=_defaults(options),
        load_model="" if plan is None else plan.describe(),
    )
    if watch is not None:
        # Each test the UI starts is judged from its own start, as a headless run is.
        def attach(**_kwargs: object) -> None:
            watch.attach(controller.runner)

        env.events.test_start.add_listener(attach)
        controller.threshold_source = lambda: watch.results
    controller.window_listeners.append(outputs.on_window)
    # Locust shows its class picker only with --class-picker; the classes' checkboxes need
    # no flag here, the weight and fixed-count fields do.
    controller.class_picker = options.class_picker
    controller.custom_options = _custom_options(env)
    if isinstance(env.runner, MasterRunner):
        # What the form sets on the master's parsed_options travels with each start.
        env.runner.shared_options = tuple(option.dest for option in controller.custom_options)
    app = create_app(
        controller,
        login=login,
        allowed_hosts=_LOOPBACK_NAMES if _is_loopback(host) else None,
        extensions=web_ui,
    )
    server = WebServer(app, host, options.web_port)
    server.bind()
    _announce(server, login, host)
    # A distributed run's workers start now, while the page loads, so that it lists them
    # before the first test and the first start does not wait for them.
    controller.warm_up()
    quitter = _Quitter(controller)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows loops have no signal handlers
            loop.add_signal_handler(signum, quitter.on_signal, signum)
    # The Logs tab: every record the root logger passes on (the locustfile's own included),
    # while the UI serves.
    controller.logs = LogBuffer()
    logging.getLogger().addHandler(controller.logs)
    if options.autostart:
        controller.start(controller.defaults)
        if options.autoquit >= 0:
            controller.test_end_listeners.append(lambda _: quitter.quit_after(options.autoquit))
    elif options.autoquit >= 0:
        logger.warning("--autoquit has no effect without --autostart; ignoring it.")
    if options.prometheus_port is not None:
        logger.warning(
            "--prometheus-port is for headless runs; the web UI serves the same metrics at "
            "/metrics on its own port."
        )
    otel = OtelExport(env) if options.otel else None
    try:
        if otel is not None:
            otel.start()  # every test the UI starts is exported, until the UI ends
        async with asyncio.TaskGroup() as group:
            serving = group.create_task(server.serve(), name="web-server")
            printer = None
            if options.print_stats and not options.only_summary:
                printer = group.create_task(_print_periodically(controller, outputs))
            await _wait_either(quitter.done, serving)
            controller.stop()
            await controller.wait()
            if printer is not None:
                printer.cancel()
            server.shutdown()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(signum)
        controller.close()
        logging.getLogger().removeHandler(controller.logs)
        if otel is not None:
            await otel.stop()
        await close_workers(env)
    return WebModeResult(controller.finished, controller.error)


async def _wait_either(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def run_web_mode(
    env: Environment,
    options: Options,
    outputs: Outputs,
    *,
    login: WebLogin | None = None,
    watch: ThresholdWatch | None = None,
    web_ui: WebExtensions | None = None,
) -> WebModeResult:
    """Serve the web UI on a fresh uvloop event loop until the process should end.

    Args:
        env: the environment, with its User classes and events (its runner is created).
        options: the parsed options (`--web-host`, `--web-port`, `--web-login`,
            `--autostart`, `--autoquit`, `-u`, `-r`, `-t`, `-H`, ...).
        outputs: where the CSV history rows (and, with `--print-stats`, the tables) go.
        login: the credentials every route requires (`web_login_of(options.web_login)`).
        watch: the thresholds, judged during every test the UI starts and shown live.
        web_ui: the `web_ui` given to `events.init` (`WebExtensions(env)`): the routes and
            tabs its listeners added are served with the UI.

    Returns:
        The last test and its error, if any; nothing has been printed or written for the
        end of the run yet (see `Outputs.finish`).

    Raises:
        ConfigError: the address cannot be bound.
    """
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(_serve(env, options, outputs, login, watch, web_ui))
