"""gevent.lock, gevent.event and gevent.queue with gevent's blocking semantics, on our loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from loadhopper._bridge import run_in_greenlet
from loadhopper._exceptions import BridgeError
from loadhopper.runtime import _gevent as gevent
from loadhopper.runtime._gevent._hub import GreenletScope
from loadhopper.runtime._gevent.event import AsyncResult, Event
from loadhopper.runtime._gevent.lock import BoundedSemaphore, RLock, Semaphore
from loadhopper.runtime._gevent.queue import Empty, Full, JoinableQueue, PriorityQueue, Queue
from runtime.conftest import run_bounded


def users(*bodies: Callable[[], Any]) -> list[Any]:
    """Run each body as a user's code in its own bridge worker, side by side; their results."""
    out: list[Any] = []

    async def main() -> None:
        with GreenletScope(lambda source, exc: None) as scope:
            out.extend(await asyncio.gather(*(run_in_greenlet(b) for b in bodies)))
            await scope.close()

    run_bounded(main)
    return out


def test_semaphore_wait_wakes_every_waiter_at_one_release() -> None:
    # Locust's semaphore_wait.py: taken at module level, waited on by every user, released
    # once when spawning completes.
    gate = Semaphore()
    assert gate.acquire() is True  # a free unit: works with no loop at all
    log: list[str] = []

    def waiter(name: str) -> Callable[[], str]:
        def body() -> str:
            gate.wait()
            log.append(name)
            return name

        return body

    def releaser() -> None:
        gevent.sleep(0.01)
        log.append("release")
        gate.release()

    assert users(waiter("a"), waiter("b"), waiter("c"), releaser) == ["a", "b", "c", None]
    assert log[0] == "release" and sorted(log[1:]) == ["a", "b", "c"]


def test_acquire_waits_for_a_release_and_times_out() -> None:
    lock = Semaphore(1)
    order: list[str] = []

    def holder() -> None:
        with lock:
            order.append("held")
            gevent.sleep(0.02)
            order.append("released")

    def contender() -> bool:
        gevent.sleep(0)
        timed_out = lock.acquire(timeout=0.001) is False
        with lock:
            order.append("got it")
        return timed_out

    assert users(holder, contender) == [None, True]
    assert order == ["held", "released", "got it"]
    assert lock.acquire(blocking=False) is True
    assert lock.acquire(blocking=False) is False


def test_bounded_semaphore_refuses_an_extra_release_and_rlock_reenters() -> None:
    bounded = BoundedSemaphore(1)
    with pytest.raises(ValueError, match="released more often"):
        bounded.release()
    rlock = RLock()

    def body() -> bool:
        with rlock, rlock:
            inner = rlock.locked()
        return inner and not rlock.locked()

    assert users(body) == [True]
    with pytest.raises(RuntimeError, match="does not hold"):
        rlock.release()


def test_acquiring_a_taken_semaphore_outside_a_user_is_a_clear_error() -> None:
    taken = Semaphore(0)
    with pytest.raises(BridgeError, match=r"Semaphore.acquire\(\) has to wait.*user"):
        taken.acquire()
    assert taken.acquire(blocking=False) is False


def test_event_and_async_result() -> None:
    ready = Event()
    result = AsyncResult()

    def setter() -> None:
        gevent.sleep(0.01)
        ready.set()
        result.set(42)

    def waiter() -> tuple[bool, Any, bool]:
        return ready.wait(), result.get(), Event().wait(timeout=0.01)

    assert users(setter, waiter) == [None, (True, 42, False)]
    failed = AsyncResult()
    failed.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        failed.get()
    with pytest.raises(gevent.Timeout):
        AsyncResult().get(block=False)


def test_queue_hands_items_between_greenlets_in_order() -> None:
    queue = Queue()

    def producer() -> None:
        for n in range(3):
            queue.put(n)
            gevent.sleep(0)
        queue.put(StopIteration)

    def consumer() -> list[int]:
        return list(queue)  # iteration ends at StopIteration, as in gevent

    assert users(consumer, producer) == [[0, 1, 2], None]
    with pytest.raises(Empty):
        queue.get_nowait()


def test_a_bounded_queue_blocks_puts_and_times_out() -> None:
    queue = Queue(maxsize=1)
    queue.put("first")
    with pytest.raises(Full):
        queue.put_nowait("second")

    def late_getter() -> Any:
        gevent.sleep(0.01)
        return queue.get()

    def putter() -> bool:
        queue.put("second")  # waits until the getter made room
        try:
            queue.put("third", timeout=0.01)
        except Full:
            return True
        return False

    assert users(late_getter, putter) == ["first", True]
    with pytest.raises(Empty):
        users(lambda: Queue().get(timeout=0.01))
    ordered = PriorityQueue(items=[3, 1, 2])
    assert [ordered.get() for _ in range(3)] == [1, 2, 3]


def test_joinable_queue_join_waits_for_task_done() -> None:
    queue = JoinableQueue()
    done: list[int] = []

    def worker() -> None:
        while True:
            item = queue.get()
            gevent.sleep(0.005)
            done.append(item)
            queue.task_done()

    def body() -> tuple[bool, list[int]]:
        for n in range(4):
            queue.put(n)
        gevent.spawn(worker)
        return queue.join(), list(done)

    assert users(body) == [(True, [0, 1, 2, 3])]
    with pytest.raises(ValueError, match="task_done"):
        queue.task_done()
