import asyncio

import uvloop

from loadhopper.user._sleep_queue import SleepQueue, sleep_queue


def test_waits_resolve_in_deadline_order_on_one_timer() -> None:
    order: list[int] = []

    async def main() -> None:
        queue = sleep_queue(asyncio.get_running_loop())
        assert sleep_queue(asyncio.get_running_loop()) is queue
        futures = []
        # 10 ms apart, so that a stall of a few ms between two calls (a loaded machine)
        # cannot reorder deadlines that the test means to be distinct.
        for i, seconds in enumerate([0.040, 0.010, 0.030, 0.020, 0.010]):
            future = queue.sleep(seconds)
            future.add_done_callback(lambda _, i=i: order.append(i))
            futures.append(future)
        assert len(queue) == 5
        await asyncio.gather(*futures)
        assert len(queue) == 0

    asyncio.run(main())
    # Ties (the two 10 ms waits) resolve in the order they were asked for.
    assert order == [1, 4, 3, 2, 0]


def test_a_woken_or_cancelled_wait_is_skipped_when_due() -> None:
    async def main() -> None:
        queue = SleepQueue(asyncio.get_running_loop())
        woken = queue.sleep(0.002)
        cancelled = queue.sleep(0.002)
        later = queue.sleep(0.003)
        woken.set_result(None)  # what User._request_stop does
        cancelled.cancel()
        await later
        assert len(queue) == 0 and cancelled.cancelled()

    asyncio.run(main())


def test_an_earlier_deadline_rearms_the_timer() -> None:
    async def main() -> list[str]:
        queue = SleepQueue(asyncio.get_running_loop())
        done: list[str] = []
        long = queue.sleep(3600)
        long.add_done_callback(lambda _: done.append("long"))
        await queue.sleep(0.001)  # would hang if only the one-hour timer were armed
        done.append("short")
        result = list(done)
        long.cancel()
        return result

    assert uvloop.run(asyncio.wait_for(main(), timeout=5)) == ["short"]


def test_waits_due_in_one_millisecond_share_a_bucket_and_never_wake_early() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue = SleepQueue(loop)
        asked = loop.time()
        futures = [queue.sleep(0.0204) for _ in range(50)]
        done_asking = loop.time()
        # uvloop's time() moves on between calls (at 1 ms resolution), so a loaded machine
        # may cross a millisecond while asking: one bucket per millisecond crossed, not per
        # wait.
        milliseconds = int(done_asking * 1000.0) - int(asked * 1000.0) + 1
        assert len(queue) == 50 and 1 <= len(queue._ticks) <= milliseconds + 1
        woken: list[float] = []
        for future in futures:
            future.add_done_callback(lambda _: woken.append(loop.time()))
        await asyncio.gather(*futures)
        # A machine that runs late only wakes them later; none may wake before its
        # deadline by more than the loop timer's own millisecond.
        assert len(woken) == 50 and min(woken) >= asked + 0.0204 - 0.001

    uvloop.run(main())
