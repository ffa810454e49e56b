"""Sleeping in a user pauses that user only: `time.sleep` (patched for a run) and `gevent.sleep`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadhopper import HttpUser, User, constant, task
from loadhopper._bridge import run_in_greenlet
from loadhopper.runtime import Environment, load_locustfile
from loadhopper.runtime import _gevent as gevent
from loadhopper.runtime._sleep_patch import (
    NO_SLEEP_PATCH_ENV,
    real_sleep,
    sleep_patch,
    yielding_sleep,
)
from runtime.conftest import run_bounded
from user.loopback_server import LoopbackServer


@pytest.fixture
def clean_gevent_modules(clean_locust_modules: None) -> Iterator[None]:
    """Undo the `gevent` alias a loaded locustfile installs (the locust one is undone too)."""
    before = {k: v for k, v in sys.modules.items() if k == "gevent" or k.startswith("gevent.")}
    yield
    for name in [k for k in sys.modules if k == "gevent" or k.startswith("gevent.")]:
        del sys.modules[name]
    sys.modules.update(before)


def _interleaving(sleep: object) -> list[str]:
    """Two users on one loop: one sleeps, the other logs once; the log tells who waited."""
    log: list[str] = []

    def sleeper() -> None:
        log.append("sleeping")
        sleep(0.5)  # type: ignore[operator]
        log.append("awake")

    def other() -> None:
        log.append("other ran")

    async def main() -> None:
        await asyncio.gather(run_in_greenlet(sleeper), run_in_greenlet(other))

    run_bounded(main)
    return log


def test_time_sleep_in_a_user_pauses_that_user_only_during_a_run() -> None:
    with sleep_patch():
        assert _interleaving(lambda s: time.sleep(s)) == ["sleeping", "other ran", "awake"]
    assert time.sleep is real_sleep  # put back at the end


def test_gevent_sleep_yields_with_or_without_the_patch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_SLEEP_PATCH_ENV, "1")
    with sleep_patch():
        assert time.sleep is real_sleep  # opted out: time.sleep is left alone
        assert _interleaving(gevent.sleep) == ["sleeping", "other ran", "awake"]
        # ... and the real time.sleep blocks the loop, as it always did.
        assert _interleaving(lambda s: time.sleep(s)) == ["sleeping", "awake", "other ran"]


def test_outside_a_user_the_sleep_is_the_real_one() -> None:
    started = time.monotonic()
    yielding_sleep(0.01)  # module level: no loop, no worker
    gevent.sleep(0.01)
    assert time.monotonic() - started >= 0.02
    with pytest.raises(ValueError, match="non-negative"):
        run_bounded(lambda: run_in_greenlet(yielding_sleep, -1))


def test_importing_loadhopper_or_loading_a_locustfile_leaves_time_sleep_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sleepy_locustfile.py"
    path.write_text(
        "from time import sleep\n"
        "from locust import User, task\n"
        "class U(User):\n"
        "    @task\n"
        "    def t(self):\n"
        "        sleep(0)\n"
    )
    code = (
        "import sys, time\n"
        "real = time.sleep\n"
        "import loadhopper\n"
        "assert time.sleep is real, 'import patched time.sleep'\n"
        "from loadhopper.runtime import load_locustfile\n"
        f"lf = load_locustfile({str(path)!r})\n"
        "assert time.sleep is real, 'loading left time.sleep patched'\n"
        "assert lf.module.sleep is not real, 'from time import sleep bound the real one'\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stdout.strip() == "clean", result.stderr


def test_a_run_patches_time_sleep_and_puts_it_back() -> None:
    seen: list[object] = []

    class Looker(User):
        wait_time = constant(0)

        @task
        def look(self) -> None:
            seen.append(time.sleep)
            time.sleep(0.01)

    env = Environment(user_classes=[Looker])
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(1, 10, run_time=0.3))
    assert seen and all(fn is yielding_sleep for fn in seen)
    assert time.sleep is real_sleep


def test_sleeping_is_not_counted_as_response_time(server: LoopbackServer) -> None:
    class Sleeper(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def index(self) -> None:
            self.client.get("/")
            time.sleep(0.3)

    env = Environment(user_classes=[Sleeper])
    runner = env.create_local_runner()
    run_bounded(lambda: runner.run(4, 100, run_time=1.0))
    total = env.stats.snapshot(time.time()).total
    # Four users sleeping side by side: about four requests each in a second (one after
    # another, the bug, they made one each). Each answer is far below a 300 ms sleep.
    assert total.num_requests >= 8
    assert total.max_response_time is not None and total.max_response_time < 150


@pytest.mark.usefixtures("clean_gevent_modules")
def test_a_locustfile_that_sleeps_at_module_level_sleeps_for_real(tmp_path: Path) -> None:
    path = tmp_path / "module_sleep_locustfile.py"
    path.write_text(
        "import time\n"
        "started = time.monotonic()\n"
        "time.sleep(0.05)\n"
        "slept = time.monotonic() - started\n"
        "from locust import User, task\n"
        "class U(User):\n"
        "    @task\n"
        "    def t(self):\n"
        "        pass\n"
    )
    module = load_locustfile(str(path)).module
    assert module.slept >= 0.05
