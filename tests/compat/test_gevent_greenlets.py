"""gevent.spawn, Greenlet, joinall, killall, Timeout and gevent.pool on loadhopper's loop.

Code "in a user" runs through `run_in_greenlet` (a bridge worker, as a task body does);
each test opens a `GreenletScope`, as a run does, so spawned greenlets are started,
reported and cancelled as in a test.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loadhopper import HttpUser, constant, task
from loadhopper._bridge import run_in_greenlet
from loadhopper._exceptions import BridgeError
from loadhopper.runtime import Environment, install_locust_alias, uninstall_locust_alias
from loadhopper.runtime import _gevent as gevent
from loadhopper.runtime._gevent._hub import GreenletScope
from loadhopper.runtime._gevent.event import Event
from loadhopper.runtime._gevent.pool import Group, Pool
from loadhopper.runtime._locust_alias import GEVENT_MODULES, REAL_GEVENT_ENV
from runtime.conftest import run_bounded
from user.loopback_server import LoopbackServer


def in_user(fn: Callable[[], Any], reported: list[BaseException] | None = None) -> Any:
    """Run `fn` as user code in a bridge worker, inside a greenlet scope; return its result."""
    errors = [] if reported is None else reported
    box: list[Any] = []

    async def main() -> None:
        with GreenletScope(lambda source, exc: errors.append(exc)) as scope:
            box.append(await run_in_greenlet(fn))
            await scope.close()

    run_bounded(main)
    return box[0]


def test_a_spawned_greenlet_runs_concurrently_and_returns_its_value() -> None:
    log: list[str] = []

    def child(n: int) -> int:
        log.append("child")
        gevent.sleep(0.01)
        return n * 2

    def body() -> tuple[Any, ...]:
        g = gevent.spawn(child, 21)
        log.append("spawned")  # the child starts only once this code waits
        value = g.get()
        return value, g.value, g.ready(), g.successful(), g.dead, bool(g)

    assert in_user(body) == (42, 42, True, True, True, False)
    assert log == ["spawned", "child"]


def test_an_exception_in_a_greenlet_is_reported_and_raised_by_get() -> None:
    reported: list[BaseException] = []

    def body() -> tuple[bool, str]:
        g = gevent.spawn(lambda: 1 / 0)
        g.join()
        with pytest.raises(ZeroDivisionError):
            g.get()
        return g.successful(), type(g.exception).__name__

    assert in_user(body, reported) == (False, "ZeroDivisionError")
    assert [type(e) for e in reported] == [ZeroDivisionError]


def test_kill_runs_the_finally_block_and_ends_with_greenlet_exit() -> None:
    cleaned: list[bool] = []

    def forever() -> None:
        try:
            Event().wait()
        finally:
            cleaned.append(True)

    def body() -> tuple[bool, str, bool]:
        g = gevent.spawn(forever)
        gevent.sleep(0)  # let it start waiting
        g.kill()
        return g.dead, type(g.exception).__name__, g.successful()

    assert in_user(body) == (True, "GreenletExit", True)
    assert cleaned == [True]


def test_a_greenlet_killed_before_it_ran_never_runs() -> None:
    ran: list[bool] = []

    def body() -> bool:
        g = gevent.spawn(ran.append, True)
        g.kill()
        gevent.sleep(0.01)
        return g.dead

    assert in_user(body) is True
    assert ran == []


def test_spawn_later_links_and_joinall() -> None:
    order: list[str] = []

    def body() -> list[str]:
        late = gevent.spawn_later(0.05, order.append, "late")
        soon = gevent.spawn(order.append, "soon")
        linked: list[str] = []
        late.link(lambda g: linked.append("late done"))
        done = gevent.joinall([late, soon])
        assert set(done) == {late, soon}
        return linked

    assert in_user(body) == ["late done"]
    assert order == ["soon", "late"]


def test_joinall_with_a_timeout_returns_the_finished_ones_and_killall_ends_the_rest() -> None:
    def body() -> tuple[int, bool]:
        quick = gevent.spawn(lambda: None)
        stuck = gevent.spawn(Event().wait)
        done = gevent.joinall([quick, stuck], timeout=0.05)
        gevent.killall([stuck])
        return len(done), stuck.dead

    assert in_user(body) == (1, True)


def test_timeout_interrupts_a_wait_and_can_be_silent() -> None:
    def body() -> tuple[bool, bool, str]:
        raised = False
        try:
            with gevent.Timeout(0.05):
                Event().wait()
        except gevent.Timeout:
            raised = True
        with gevent.Timeout(0.05, False):
            Event().wait()
        value = gevent.with_timeout(0.05, Event().wait, timeout_value="gave up")
        return raised, True, value

    assert in_user(body) == (True, True, "gave up")


def test_greenlets_spawned_before_a_loop_start_with_the_next_test_and_stop_with_it() -> None:
    ticks: list[int] = []

    def ticker() -> None:
        while True:
            ticks.append(1)
            time.sleep(0.05)  # the sleep patch is on during the run

    pending = gevent.spawn(ticker)  # as from an `init` listener: no loop yet
    assert not pending.dead and ticks == []

    class Idle(HttpUser):
        host = "http://127.0.0.1:9"
        wait_time = constant(60)

        @task
        def nothing(self) -> None:
            pass

    env = Environment(user_classes=[Idle])
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(1, 10, run_time=0.4))
    assert len(ticks) >= 2  # it ran during the test without blocking it
    assert pending.dead  # and was cancelled at the stop
    assert type(pending.exception).__name__ == "GreenletExit"


def test_requests_from_spawned_greenlets_and_pools_are_recorded(server: LoopbackServer) -> None:
    class Fanout(HttpUser):
        host = server.url
        wait_time = constant(60)

        @task
        def fan(self) -> None:
            pool = Pool(2)
            pool.map(self.client.get, ["/", "/json", "/status/500"])
            gevent.joinall([gevent.spawn(self.client.get, "/") for _ in range(2)])

    env = Environment(user_classes=[Fanout])
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(2, 100, run_time=0.5))
    snapshot = env.stats.snapshot(time.time())
    assert snapshot.total.num_requests == 10  # 5 per user, each counted once
    assert snapshot.total.num_failures == 2  # the /status/500 of each user
    assert snapshot.exceptions == ()


def test_an_exception_in_a_spawned_greenlet_reaches_the_runs_exceptions(
    server: LoopbackServer,
) -> None:
    class Spawner(HttpUser):
        host = server.url
        wait_time = constant(60)

        @task
        def spawn_failing(self) -> None:
            gevent.spawn(lambda: {}["missing"]).join()

    env = Environment(user_classes=[Spawner])
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(1, 10, run_time=0.3))
    exceptions = env.stats.snapshot(time.time()).exceptions
    assert [e.message for e in exceptions] == ["KeyError: 'missing'"]


def test_a_pool_runs_at_most_size_greenlets_and_maps_in_order() -> None:
    running = [0]
    peak = [0]

    def work(n: int) -> int:
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        gevent.sleep(0.01)
        running[0] -= 1
        return n * n

    def body() -> tuple[list[int], list[int], int, int]:
        pool = Pool(3)
        squares = pool.map(work, range(8))
        unordered = sorted(pool.imap_unordered(work, range(5)))
        pool.spawn(Event().wait)
        free = pool.free_count()
        pool.kill()
        return squares, unordered, free, pool.wait_available()

    assert in_user(body) == ([n * n for n in range(8)], [0, 1, 4, 9, 16], 2, 3)
    assert peak[0] == 3


def test_a_group_joins_every_greenlet() -> None:
    def body() -> tuple[bool, int, list[int]]:
        group = Group()
        results: list[int] = []
        for n in range(4):
            group.spawn(lambda n=n: results.append(n) or gevent.sleep(0.01))
        joined = group.join()
        return joined, len(group), sorted(results)

    assert in_user(body) == (True, 0, [0, 1, 2, 3])


def test_waiting_outside_a_user_is_a_clear_error() -> None:
    never = Event()
    with pytest.raises(BridgeError, match=r"Event.wait\(\) has to wait"):
        never.wait()
    done = Event()
    done.set()
    assert done.wait() is True  # nothing to wait for: fine anywhere


@pytest.fixture
def saved_modules() -> Iterator[None]:
    before = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("gevent", "locust")}
    yield
    for name in [k for k in sys.modules if k.split(".")[0] in ("gevent", "locust")]:
        del sys.modules[name]
    sys.modules.update(before)


@pytest.mark.usefixtures("saved_modules")
def test_the_alias_makes_gevent_the_shim_and_can_be_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    previous = install_locust_alias()
    try:
        import gevent as aliased
        import gevent.pool as aliased_pool

        assert aliased is gevent
        assert aliased_pool.Pool is Pool
        for name in GEVENT_MODULES:
            assert sys.modules[name].__name__.startswith("loadhopper.runtime._gevent"), name
        assert aliased.monkey.patch_all() is True  # a no-op
    finally:
        uninstall_locust_alias(previous)
    monkeypatch.setenv(REAL_GEVENT_ENV, "1")
    previous = install_locust_alias()
    try:
        assert "gevent" not in previous
    finally:
        uninstall_locust_alias(previous)


def test_a_locustfile_spawning_at_import_gets_its_greenlet_started_by_the_run(
    tmp_path: Path,
) -> None:
    # The shape of Locust's stop_on_threshold example, in-process: a checker spawned
    # before the loop exists quits the run from its own greenlet.
    started = time.monotonic()

    def checker(env: Environment) -> None:
        time.sleep(0.05)  # parks this greenlet only: the run goes on meanwhile
        assert env.runner is not None
        env.process_exit_code = 1
        env.runner.quit()

    class Idle(HttpUser):
        host = "http://127.0.0.1:9"
        wait_time = constant(60)

        @task
        def nothing(self) -> None:
            pass

    env = Environment(user_classes=[Idle])
    runner = env.create_local_runner()
    gevent.spawn(checker, env)

    async def main() -> None:
        await asyncio.wait_for(runner.run(1, 10, run_time=30), 15)

    run_bounded(main)
    assert env.process_exit_code == 1
    assert runner.quitting
    assert time.monotonic() - started < 15  # stopped by the checker, not by -t
