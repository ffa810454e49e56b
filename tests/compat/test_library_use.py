"""loadhopper as a library, in this process: the script's blocking calls run the loop.

Each test is a small "script" in the test function itself: it builds an Environment, starts
users against the loopback server and blocks (time.sleep, gevent.sleep, joins, stop) while
the library hub runs them. The `hub` fixture closes the hub after each test, checks that it
closed within a bound, and that `time.sleep` is the real one again.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from loadhopper import HttpUser, constant, task
from loadhopper._exceptions import BridgeError, LoadhopperError
from loadhopper.runtime import Environment, FakeClock, RunnerState
from loadhopper.runtime import _gevent as gevent
from loadhopper.runtime._gevent.event import Event
from loadhopper.runtime._library import (
    close_library_hub,
    current_hub,
    library_scope,
    library_sleep,
)
from loadhopper.runtime._script_stats import stats_history, stats_printer
from loadhopper.runtime._sleep_patch import real_sleep
from user.loopback_server import LoopbackServer

BOUND = 20.0  # seconds: only detects a hang


@pytest.fixture
def hub() -> Iterator[None]:
    yield
    started = time.monotonic()
    close_library_hub()
    assert time.monotonic() - started < BOUND
    assert current_hub() is None
    assert time.sleep is real_sleep


def _env(server: LoopbackServer, wait: float = 0.05) -> Environment:
    class Quick(HttpUser):
        host = server.url
        wait_time = constant(wait)

        @task
        def index(self) -> None:
            self.client.get("/")

    return Environment(user_classes=[Quick])


def _served(server: LoopbackServer, since: int) -> int:
    return len(server.log) - since


def test_start_sleep_stop_start_again_and_quit_from_a_script(
    hub: None, server: LoopbackServer
) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    before = len(server.log)
    runner.start(3, spawn_rate=100)
    # Nothing runs until the script blocks, as with gevent.
    assert runner.state is RunnerState.READY and current_hub() is not None
    assert time.sleep is library_sleep
    time.sleep(0.6)
    assert runner.state is RunnerState.RUNNING and runner.user_count == 3
    assert env.stats.total.num_requests > 0
    runner.stop()  # returns once the test has stopped
    assert runner.state is RunnerState.STOPPED and runner.user_count == 0
    first = env.stats.total.num_requests
    assert _served(server, before) == first
    assert not runner.greenlet.dead  # a stop is not a quit

    runner.start(2, spawn_rate=100)
    gevent.sleep(0.5)
    assert runner.state is RunnerState.RUNNING and runner.user_count == 2
    runner.quit()
    assert runner.state is RunnerState.STOPPED and runner.greenlet.dead
    assert runner.greenlet.join(timeout=0) is True
    assert _served(server, before) == first + env.runner.stats.total.num_requests


def test_greenlet_join_returns_once_a_spawned_greenlet_quits_the_runner(
    hub: None, server: LoopbackServer
) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    runner.start(2, spawn_rate=100)
    quitter = gevent.spawn_later(0.5, runner.quit)
    started = time.monotonic()
    runner.greenlet.join(timeout=BOUND)
    assert time.monotonic() - started < BOUND
    assert quitter.dead and quitter.successful()
    assert runner.greenlet.dead and not runner.greenlet
    assert runner.state is RunnerState.STOPPED
    assert env.stats.total.num_requests > 0


def test_start_before_any_block_takes_the_last_call_and_stop_cancels_it(
    hub: None, server: LoopbackServer
) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    runner.start(5, spawn_rate=100)
    runner.start(2, spawn_rate=100)  # the test has not run yet: the last call wins
    runner.start(1, spawn_rate=100, wait=True)  # wait: until the ramp has finished
    assert runner.state is RunnerState.RUNNING and runner.user_count == 1
    runner.stop()
    before = len(server.log)
    runner.start(4, spawn_rate=100)
    runner.stop()  # begun but never run: nothing runs
    assert runner.state is RunnerState.STOPPED and not runner.test_pending
    time.sleep(0.2)
    assert len(server.log) == before and runner.user_count == 0


def test_gevent_blocking_calls_work_from_the_script(hub: None, server: LoopbackServer) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=100)
    ready = Event()
    order: list[str] = []

    def child() -> int:
        gevent.sleep(0.1)
        order.append("child")
        ready.set()
        return 7

    greenlet_ = gevent.spawn(child)
    assert ready.wait(timeout=BOUND) is True  # Event.wait from the script
    assert greenlet_.get(timeout=BOUND) == 7  # Greenlet.get from the script
    order.append("script")
    assert order == ["child", "script"]
    slow = gevent.spawn(gevent.sleep, 30)
    slow.kill()  # block=True: the script waits until it has ended
    assert slow.dead
    assert gevent.joinall([gevent.spawn(lambda: 1)], timeout=BOUND)[0].value == 1
    runner.quit()


def test_the_script_sees_no_running_loop_between_blocks(hub: None, server: LoopbackServer) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=100)
    time.sleep(0.1)
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    assert asyncio.run(asyncio.sleep(0, "own loop")) == "own loop"
    time.sleep(0.1)  # and the hub still runs afterwards
    assert runner.state is RunnerState.RUNNING
    runner.quit()


def test_greenlets_the_script_spawns_outlive_a_test(hub: None, server: LoopbackServer) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    ticks: list[int] = []

    def ticker() -> None:
        while True:
            ticks.append(1)
            gevent.sleep(0.05)

    forever = gevent.spawn(ticker)  # before the hub exists: it starts with the hub
    history = gevent.spawn(stats_history, runner)
    for users in (2, 1):
        runner.start(users, spawn_rate=100)
        time.sleep(1.3)
        runner.stop()
    assert not forever.dead and not history.dead
    points = list(runner.history)
    # One point per closed window of both tests (at least one whole second each, plus
    # the last partial window), with each test's users.
    assert len(points) >= 4
    assert {p.user_count for p in points} >= {1, 2}
    assert sum(p.total_requests > 0 for p in points) >= 2
    count = len(ticks)
    time.sleep(0.2)
    assert len(ticks) > count  # still ticking between tests
    history.kill()
    time.sleep(1.1)  # the history greenlet is gone: no more points, even during a test
    assert len(runner.history) == len(points)
    runner.quit()


def test_stats_printer_prints_the_console_table_every_two_seconds(
    hub: None, server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    printer = gevent.spawn(stats_printer(env.stats))
    runner.start(2, spawn_rate=100)
    time.sleep(2.5)  # tables at 0 s and 2 s
    printer.kill()
    runner.quit()
    out = capsys.readouterr().out
    assert out.count("Aggregated") == 2
    assert "req/s (10s)" in out and "GET      /" in out


def test_blocking_from_a_listener_on_the_loop_is_still_refused(
    hub: None, server: LoopbackServer
) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    errors: list[BaseException] = []

    @env.events.test_start.add_listener
    def blocks(**kwargs: object) -> None:
        try:
            Event().wait()  # a listener runs on the loop itself, not in the script
        except BridgeError as exc:
            errors.append(exc)

    runner.start(1, spawn_rate=100)
    time.sleep(0.2)
    runner.quit()
    assert len(errors) == 1 and "has to wait" in str(errors[0])


def test_start_outside_a_test_needs_the_real_clock() -> None:
    env = Environment(user_classes=[], clock=FakeClock())
    with pytest.raises(LoadhopperError, match="begin a test"):
        env.create_local_runner().start(1, 1)
    assert current_hub() is None and time.sleep is real_sleep


def test_time_sleep_is_patched_only_inside_library_scope() -> None:
    assert time.sleep is real_sleep
    with library_scope():
        assert time.sleep is library_sleep
        assert current_hub() is None  # nothing started yet
        started = time.monotonic()
        time.sleep(0.05)  # the script's first block starts the hub
        # The loop may fire a timer up to its clock resolution (1 ms) early.
        assert current_hub() is not None and time.monotonic() - started >= 0.045
    assert current_hub() is None and time.sleep is real_sleep


def test_the_web_ui_is_served_while_the_script_blocks(hub: None, server: LoopbackServer) -> None:
    env = _env(server)
    runner = env.create_local_runner()
    web_ui = env.create_web_ui("127.0.0.1", 0)
    assert env.web_ui is web_ui and web_ui.port > 0
    runner.start(1, spawn_rate=100)
    pages: list[bytes] = []

    def fetch() -> None:  # a browser, in a thread of its own
        with urllib.request.urlopen(web_ui.url + "/", timeout=BOUND) as response:
            pages.append(response.read())

    browser = threading.Thread(target=fetch)
    browser.start()
    deadline = time.monotonic() + BOUND
    while browser.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)  # the loop serves the page meanwhile
    assert pages and b"<html" in pages[0].lower()
    runner.quit()
    web_ui.stop()  # returns once the server has ended
    with pytest.raises(OSError):
        urllib.request.urlopen(web_ui.url + "/", timeout=2)
