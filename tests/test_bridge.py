import asyncio

import pytest

from loadhopper._bridge import await_, in_bridge, run_in_greenlet
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
