"""Parking: a worker resumed straight from a loop callback, with no Future per wait."""

import asyncio

import pytest

from loadhopper._bridge import (
    await_,
    bridge_statistics,
    current_worker,
    park,
    run_in_greenlet,
)
from loadhopper._exceptions import BridgeError


def test_a_parked_worker_gets_the_callbacks_values_and_errors() -> None:
    def task() -> list[object]:
        loop = asyncio.get_running_loop()
        seen: list[object] = []
        for n in range(3):
            loop.call_later(0.001, current_worker().set_result, n)
            seen.append(park())
        loop.call_soon(current_worker().set_exception, KeyError("gone"))
        try:
            park()
        except KeyError as exc:
            seen.append(exc.args[0])
        seen.append(await_(asyncio.sleep(0, "awaited")))  # the general path still works
        return seen

    assert asyncio.run(run_in_greenlet(task)) == [0, 1, 2, "gone", "awaited"]
    assert bridge_statistics().workers_busy == 0


def test_code_resumed_by_a_callback_runs_as_its_drivers_task() -> None:
    # gevent.Timeout (runtime/_gevent) cancels asyncio.current_task(): it must be the
    # driver's Task even when a callback, not the Task, resumed the worker.
    def task() -> bool:
        first = asyncio.current_task()
        asyncio.get_running_loop().call_soon(current_worker().set_result, None)
        park()
        return first is not None and asyncio.current_task() is first

    assert asyncio.run(run_in_greenlet(task)) is True


def test_cancelling_the_driver_raises_in_the_parked_worker() -> None:
    cleaned: list[str] = []

    def task() -> None:
        current_worker()  # handed to nobody: only the cancellation can wake it
        try:
            park()
        finally:
            cleaned.append("finally")

    async def main() -> None:
        call = asyncio.ensure_future(run_in_greenlet(task))
        await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, timeout=5)

    asyncio.run(main())
    assert cleaned == ["finally"]
    assert bridge_statistics().workers_busy == 0


def test_a_callback_after_the_cancellation_does_not_resume_the_worker() -> None:
    resumed: list[object] = []

    def task() -> None:
        loop = asyncio.get_running_loop()
        # Due after the cancellation below: the worker is no longer parked by then.
        loop.call_later(0.05, lambda w: resumed.append(w.done()), current_worker())
        park()

    async def main() -> None:
        call = asyncio.ensure_future(run_in_greenlet(task))
        await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, timeout=5)
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert resumed == [True]  # a connection checks done() before set_result


def test_current_worker_outside_a_worker_says_what_to_do() -> None:
    with pytest.raises(BridgeError, match="await the async form"):
        current_worker()
