"""A response resumes its worker without copying the loop's C stack (`_stackroom.c`)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import greenlet
import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper import _bridge
from loadhopper.http import HttpSession

NOT_BUILT = (
    "loadhopper._stackroom is not built ({}): the dev install compiles it "
    "(pip install -e '.[dev]' with gcc and the Python headers)"
)


def require_room() -> Callable[..., Any]:
    """`call_below`; a failure, not a skip, when the dev install did not build it."""
    try:
        from loadhopper._stackroom import call_below
    except ImportError as exc:
        pytest.fail(NOT_BUILT.format(exc), pytrace=False)
    return call_below


def _loop_stack_saved_after_each_get(session: HttpSession, count: int) -> list[int]:
    """In a worker: after each response, how many bytes of the loop's stack greenlet holds."""

    def task() -> list[int]:
        saved: list[int] = []
        for _ in range(count):
            assert session.get("/echo").status_code == 200
            # The loop's greenlet switched here from the connection's callback: what it
            # keeps saved is what that switch copied out (and will copy back in).
            saved.append(greenlet.getcurrent().parent._stack_saved)
        return saved

    return list(run_blocking(task))


def test_a_response_switch_copies_nothing_of_the_loops_stack(
    server: Server, sink: Recorder
) -> None:
    require_room()
    if os.environ.get("LOADHOPPER_PURE_PYTHON"):
        # The whole suite was asked to run without it: then it must really be off.
        assert _bridge._call_below is None
        return
    assert _bridge._call_below is not None, "the module imports, but _bridge did not use it"
    session = HttpSession(server.url, request_sink=sink)
    assert _loop_stack_saved_after_each_get(session, 5) == [0] * 5
    assert len(sink.samples) == 5


def test_without_the_room_the_same_switch_copies_the_loops_stack(server: Server) -> None:
    # The measure above can fail: with the module turned off, the same requests leave
    # kilobytes of the loop's stack saved at every response.
    child = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from loadhopper import _bridge
        from loadhopper.http import HttpSession
        from _loopback import Recorder
        from test_stack_room import _loop_stack_saved_after_each_get
        assert _bridge._call_below is None, "LOADHOPPER_PURE_PYTHON=1 left the room on"
        session = HttpSession({server.url!r}, request_sink=Recorder())
        saved = _loop_stack_saved_after_each_get(session, 5)
        print(min(saved))
        """
    )
    env = {**os.environ, "LOADHOPPER_PURE_PYTHON": "1"}
    done = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 1024


def test_call_below_calls_with_its_arguments_and_raises_what_the_call_raises() -> None:
    call_below = require_room()

    assert call_below(4096, divmod, 7, 2) == (3, 1)
    assert call_below(0, tuple) == ()
    with pytest.raises(ZeroDivisionError):
        call_below(4096, divmod, 1, 0)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((), TypeError, "takes a room in bytes and a callable"),
        ((4096,), TypeError, "takes a room in bytes and a callable"),
        ((-1, tuple), ValueError, "room must be 0 to 1048576 bytes, not -1"),
        ((1 << 21, tuple), ValueError, "room must be 0 to 1048576 bytes, not 2097152"),
        (("big", tuple), TypeError, "integer"),
    ],
)
def test_call_below_rejects_what_it_cannot_do(
    args: tuple[object, ...], error: type[Exception], message: str
) -> None:
    call_below = require_room()
    with pytest.raises(error, match=message):
        call_below(*args)


def test_a_worker_started_below_the_loop_still_runs_and_parks_in_order() -> None:
    # greenlet stays correct wherever the stops are: workers started with the room, parked
    # and resumed in an order unlike their starts, give every value back to the right one.
    import asyncio

    from loadhopper._bridge import current_worker, park, run_in_greenlet

    def task(n: int) -> list[int]:
        loop = asyncio.get_running_loop()
        seen = []
        for step in range(3):
            loop.call_later(0.001 * (3 - n), current_worker().set_result, n * 10 + step)
            seen.append(park())
        return seen

    async def main() -> list[list[int]]:
        return list(await asyncio.gather(*(run_in_greenlet(task, n) for n in range(3))))

    assert asyncio.run(main()) == [[0, 1, 2], [10, 11, 12], [20, 21, 22]]
