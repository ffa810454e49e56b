"""Zero-wait HTTP tasks run one after another in the worker (user/_taskset.py, "Tasks in a row")."""

import asyncio
import contextlib
import inspect
import itertools
from typing import Any

from loadhopper import HttpUser, StopUser, constant, task
from loadhopper._bridge import current_worker
from user.helpers import make_env, run_user
from user.loopback_server import LoopbackServer


def _count(env: Any, name: str) -> tuple[int, int]:
    for row in env.stats.snapshot(0).rows:
        if row.name == name:
            return row.num_requests, row.num_failures
    return 0, 0


def test_zero_wait_tasks_follow_each_other_in_the_worker(server: LoopbackServer) -> None:
    in_row: list[bool] = []
    tasks_seen: list[bool] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self) -> None:
            before = asyncio.current_task()
            self.client.get("/")
            # Still the user's own Task after the response (gevent.Timeout relies on it).
            tasks_seen.append(before is not None and asyncio.current_task() is before)
            in_row.append(any(f.function == "_run_tasks" for f in inspect.stack()))
            if len(in_row) == 50:
                raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert _count(env, "/") == (50, 0)  # every request recorded once
    assert all(tasks_seen)
    assert in_row[1:] == [True] * 49  # the worker ran the tasks after the first itself


def test_a_wait_hands_back_to_the_loop_and_is_honoured(server: LoopbackServer) -> None:
    stamps: list[float] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0.05)

        @task
        def t(self) -> None:
            self.client.get("/")
            stamps.append(asyncio.get_running_loop().time())
            if len(stamps) == 4:
                raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert _count(env, "/") == (4, 0)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.045  # each wait drawn in the worker was slept by the loop


def test_a_stop_request_ends_a_zero_wait_user_after_its_task(server: LoopbackServer) -> None:
    done: list[int] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self) -> None:
            self.client.get("/")
            done.append(1)
            if len(done) == 20:
                self._request_stop()

    env = make_env(U)
    user = U(env)
    run_user(user)
    assert len(done) == 20 and _count(env, "/") == (20, 0)


def test_cancelling_a_user_parked_on_a_response_runs_its_finally(server: LoopbackServer) -> None:
    cleaned: list[str] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self) -> None:
            self.client.get("/")  # a reused connection next: the worker parks on it
            try:
                self.client.get("/slow?ms=3000")
            finally:
                cleaned.append("finally")

    async def main() -> None:
        env = make_env(U)
        life = asyncio.ensure_future(U(env)._life())
        await asyncio.sleep(0.3)
        life.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(life, timeout=5)

    asyncio.run(main())
    assert cleaned == ["finally"]


def test_a_first_request_on_a_new_connection_parks_on_its_response(
    server: LoopbackServer,
) -> None:
    # The response of a request that opened its connection is delivered by the callback that
    # completes it (the worker parks), so it is timed then, not a loop turn later.
    parked: list[int] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self) -> None:
            worker = current_worker()
            before = worker.parks
            self.client.get("/", headers={"Connection": "close"})  # a new connection each time
            parked.append(worker.parks - before)
            del worker
            if len(parked) == 3:
                raise StopUser()

    env = make_env(U)
    run_user(U(env))
    assert parked == [1, 1, 1]
    assert _count(env, "/") == (3, 0)


def test_cancelling_a_user_parked_on_a_first_response_runs_its_finally(
    server: LoopbackServer,
) -> None:
    cleaned: list[str] = []

    class U(HttpUser):
        host = server.url
        wait_time = constant(0)

        @task
        def t(self) -> None:
            try:
                self.client.get("/slow?ms=3000")  # the user's first request: a new connection
            finally:
                cleaned.append("finally")

    async def main() -> Any:
        env = make_env(U)
        life = asyncio.ensure_future(U(env)._life())
        await asyncio.sleep(0.3)
        life.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(life, timeout=5)
        return env

    env = asyncio.run(main())
    assert cleaned == ["finally"]
    # Cancelled on the wire: recorded once as interrupted, as on a reused connection.
    rows = {row.name: row for row in env.stats.snapshot(0).rows}
    assert rows["/slow?ms=[v]"].num_failures == 1
