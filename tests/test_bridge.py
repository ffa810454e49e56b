import asyncio
import contextvars
import gc
import weakref

import greenlet
import pytest

from loadhopper._bridge import (
    BridgeStatistics,
    Worker,
    WorkerPool,
    await_,
    bridge_statistics,
    call_in_worker,
    in_bridge,
    run_in_greenlet,
)
from loadhopper._exceptions import BridgeError


async def _double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


async def _boom() -> None:
    await asyncio.sleep(0)
    raise ValueError("boom")


def test_sync_code_awaits_through_the_bridge() -> None:
    def task() -> int:
        assert in_bridge()
        return await_(_double(1)) + await_(_double(2))

    assert asyncio.run(run_in_greenlet(task)) == 6


def test_exceptions_from_the_loop_reach_the_task_and_back() -> None:
    seen: list[str] = []

    def task() -> None:
        try:
            await_(_boom())
        except ValueError as exc:
            seen.append(str(exc))
        raise KeyError("out")

    with pytest.raises(KeyError):
        asyncio.run(run_in_greenlet(task))
    assert seen == ["boom"]


def test_many_greenlets_interleave_on_one_loop() -> None:
    order: list[tuple[int, int]] = []

    def task(i: int) -> None:
        for step in range(3):
            await_(asyncio.sleep(0))
            order.append((i, step))

    async def main() -> None:
        await asyncio.gather(*(run_in_greenlet(task, i) for i in range(3)))

    asyncio.run(main())
    assert len(order) == 9
    assert order[:3] == [(0, 0), (1, 0), (2, 0)]


def test_cancellation_runs_the_tasks_finally_block() -> None:
    cleaned: list[bool] = []

    def task() -> None:
        try:
            await_(asyncio.sleep(10))
        finally:
            cleaned.append(True)

    async def main() -> None:
        t = asyncio.ensure_future(run_in_greenlet(task))
        await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())
    assert cleaned == [True]


def test_await_outside_a_greenlet_is_a_clear_error() -> None:
    assert not in_bridge()
    with pytest.raises(BridgeError, match="async form"):
        await_(_double(1))


# ---- the worker pool ---------------------------------------------------------------------


def test_sequential_calls_reuse_one_worker() -> None:
    async def main() -> None:
        before = bridge_statistics()
        for i in range(200):
            assert await run_in_greenlet(lambda x: await_(_double(x)), i) == 2 * i
        after = bridge_statistics()
        assert after.workers_created - before.workers_created <= 1
        assert after.workers_busy == 0 and after.workers_idle >= 1

    asyncio.run(main())


def test_concurrent_calls_use_one_worker_each_and_all_come_back() -> None:
    peak: list[int] = []

    def task() -> None:
        await_(asyncio.sleep(0))
        peak.append(bridge_statistics().workers_busy)
        await_(asyncio.sleep(0))

    async def main() -> None:
        before = bridge_statistics()
        await asyncio.gather(*(run_in_greenlet(task) for _ in range(20)))
        after = bridge_statistics()
        assert max(peak) >= 20  # all twenty were in progress at once
        assert after.workers_busy == before.workers_busy == 0
        assert after.workers_created - before.workers_created <= 20
        # Every worker alive is in the free list: none is held by a finished call.
        live = [obj for obj in gc.get_objects() if isinstance(obj, Worker) and not obj.dead]
        assert len(live) == after.workers_idle

    asyncio.run(main())


def test_a_cancelled_function_finishes_and_its_worker_is_reused() -> None:
    cleaned: list[bool] = []

    def task() -> None:
        try:
            await_(asyncio.sleep(10))
        finally:
            cleaned.append(True)

    async def main() -> None:
        running = asyncio.ensure_future(run_in_greenlet(task))
        await asyncio.sleep(0.01)
        before = bridge_statistics()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        after = bridge_statistics()
        assert cleaned == [True]
        # It finished its function (by raising): a clean worker, back in the free list.
        assert after.workers_busy == before.workers_busy - 1
        assert after.workers_idle == before.workers_idle + 1
        assert after.workers_discarded == before.workers_discarded
        await run_in_greenlet(lambda: None)
        assert bridge_statistics().workers_created == after.workers_created

    asyncio.run(main())


def test_a_driver_closed_mid_function_abandons_its_worker() -> None:
    cleaned: list[bool] = []
    used: list[weakref.ref[Worker]] = []

    def task() -> None:
        used.append(weakref.ref(greenlet.getcurrent()))
        try:
            await_(asyncio.sleep(10))
        finally:
            cleaned.append(True)

    async def main() -> None:
        before = bridge_statistics()
        driver = run_in_greenlet(task)
        driver.send(None)  # runs until the function blocks in await_
        assert bridge_statistics().workers_busy == before.workers_busy + 1
        driver.close()  # as when a pending task is destroyed
        gc.collect()
        after = bridge_statistics()
        assert after.workers_busy == before.workers_busy
        assert after.workers_discarded == before.workers_discarded + 1
        # The dirty worker was not put back: it was dropped, and killed with GreenletExit
        # when collected, which ran the function's finally block.
        assert after.workers_idle == before.workers_idle - (before.workers_idle > 0)
        assert used[0]() is None
        assert cleaned == [True]

    asyncio.run(main())


def test_the_free_list_is_bounded() -> None:
    pool = WorkerPool(max_idle=2)
    workers = [pool.acquire() for _ in range(3)]
    assert pool.statistics() == BridgeStatistics(3, 3, 0, 0)
    for worker in workers:
        assert worker.start(lambda: 7, ()) == ()
        assert not worker.busy
        assert pool.finish(worker) == 7
    assert pool.statistics() == BridgeStatistics(3, 0, 2, 1)


def test_an_exception_keeps_its_traceback_and_leaves_no_context_behind() -> None:
    def inner() -> None:
        raise ValueError("deep")

    def outer() -> None:
        await_(asyncio.sleep(0))
        inner()

    def later() -> None:
        raise KeyError("next")

    async def main() -> None:
        with pytest.raises(ValueError) as first:
            await run_in_greenlet(outer)
        names = [entry.name for entry in first.traceback]
        assert names[-2:] == ["outer", "inner"]
        # The same worker runs the next function: the earlier error is not its __context__.
        with pytest.raises(KeyError) as second:
            await run_in_greenlet(later)
        assert second.value.__context__ is None

    asyncio.run(main())


def test_context_variables_do_not_leak_between_calls() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def set_and_read(value: str) -> str:
        before = var.get()
        var.set(value)
        return before

    async def main() -> None:
        assert await run_in_greenlet(set_and_read, "a") == "unset"
        assert await run_in_greenlet(set_and_read, "b") == "unset"
        # A borrower that hands its context back in keeps its variables across calls.
        result, context = await call_in_worker(set_and_read, ("c",))
        assert result == "unset"
        result, _ = await call_in_worker(set_and_read, ("d",), context)
        assert result == "c"

    asyncio.run(main())


def test_keyword_arguments_reach_the_function() -> None:
    def task(a: int, *, b: int) -> int:
        return a - b

    assert asyncio.run(run_in_greenlet(task, 5, b=2)) == 3
