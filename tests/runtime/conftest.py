import asyncio
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from loadhopper.runtime import FakeClock
from user.loopback_server import LoopbackServer, running_server


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def clean_locust_modules() -> Iterator[None]:
    """Undo the `locust` alias (and locustfile modules) a test installs."""
    before = dict(sys.modules)
    path = list(sys.path)
    yield
    temp = tempfile.gettempdir()
    aliased = ("locust", "gevent")  # the names the alias maps to loadhopper's shims
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if (name.startswith(aliased) and before.get(name) is not module) or (
            name not in before and where.startswith(temp)
        ):
            del sys.modules[name]
    sys.modules.update({k: v for k, v in before.items() if k.startswith(aliased)})
    sys.path[:] = path


async def until(clock: FakeClock, predicate: Callable[[], bool], step: float = 0.0) -> None:
    """Let the loop run until `predicate()` holds, moving the fake clock `step` s each turn.

    With `step` 0 the clock stands still: for conditions that real I/O makes true (a
    request reaching the loopback server). Every test runs under a hang bound, so a
    condition that never comes fails the test.
    """
    while not predicate():
        if step:
            await clock.advance(step)
        else:
            await clock.settle()


async def drive(clock: FakeClock, run: Coroutine[Any, Any, None], step: float = 0.01) -> None:
    """Await `run` while moving the fake clock `step` seconds at a time (for ramps)."""
    task = asyncio.ensure_future(run)
    await until(clock, task.done, step)
    await task


def run_bounded(main: Callable[[], Coroutine[Any, Any, None]], bound: float = 15.0) -> None:
    """Run `main()` on a fresh loop; fail (not hang) if it is still running after `bound` s.

    Whatever a test did, nothing the runner started may outlive it.
    """

    async def bounded() -> None:
        async with asyncio.timeout(bound):
            await main()
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(bounded())
