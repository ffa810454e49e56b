"""The worker process a Ray actor starts: `serve` on the main thread of a clean interpreter.

Why a process of its own. A Ray worker process is busy on its own account: gRPC and
core-worker threads, and a main thread that Ray owns and wakes to poll for signals, so a
loop in one of its threads competes for the GIL with them. Measured in benchmark case 5,
requests cost 1.3-1.8x the CPU they cost in a forked `--processes` child. Here the loop is
alone in its interpreter, as in a forked child, and the actor only relays a few frames a
second.

Run as `python -m loadhopper.distributed._ray_child FD PARENT_PID` with one end of a
socketpair inherited as FD. Frames (`_framing.py`) from the actor: first the pickled
`(WorkerSpec, entry point)`, then the master's frames for `serve`. Frames to the actor start
with a tag: `FRAME_TAG` and a frame of `serve`'s, or once, at the end, `ENDING_TAG` and an
`Ending` pickled as a plain tuple. A child that dies without its ending (a signal) is told
apart by the actor from its exit status.

The child dies with its actor: on Linux the kernel sends it SIGKILL when the actor's
process ends (PR_SET_PDEATHSIG); elsewhere the end of the socket ends `serve`'s frames.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import os
import pickle
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple, cast

from loadhopper.distributed._framing import Send, serve_on_socket
from loadhopper.distributed._transport import WorkerSpec
from loadhopper.runtime import new_event_loop

__all__ = ["CHILD_MODULE", "ENDING_TAG", "FRAME_TAG", "Ending", "Serve", "main"]

CHILD_MODULE = __name__
FRAME_TAG = b"F"
ENDING_TAG = b"E"
_PR_SET_PDEATHSIG = 1  # <sys/prctl.h>

Serve = Callable[[WorkerSpec, AsyncIterator[bytes], Send], Awaitable[int]]


class Ending(NamedTuple):
    """How `serve` ended: its exit code, or the exception that ended it (one line)."""

    code: int | None
    error: str | None


def _die_with(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the actor was gone before the line above
        os._exit(1)


def _resolve(entry_point: str) -> Serve:
    module_name, _, attribute = entry_point.partition(":")
    return cast(Serve, getattr(importlib.import_module(module_name), attribute))


async def _serve(frames: AsyncIterator[bytes], send: Send) -> int:
    try:
        spec, entry_point = pickle.loads(await anext(frames))
        code = await _resolve(entry_point)(spec, frames, lambda frame: send(FRAME_TAG + frame))
        ending = Ending(code, None)
    except StopAsyncIteration:  # the actor went away before it said anything
        return 1
    except BaseException as exc:  # whatever ended the worker, the master must hear of it
        ending = Ending(None, f"{type(exc).__name__}: {exc}".splitlines()[0])
    send(ENDING_TAG + pickle.dumps(tuple(ending)))  # a tuple: this module is __main__ here
    return 0 if ending.error is None else 1


def main(argv: list[str]) -> int:
    """The child's program: `argv` is `[FD, PARENT_PID]`."""
    fd, parent_pid = int(argv[0]), int(argv[1])
    _die_with(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the master decides how a test stops
    sock = socket.socket(fileno=fd)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(serve_on_socket(sock, _serve))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
