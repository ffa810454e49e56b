"""The event loop every loadhopper loop runs on: uvloop where it exists, asyncio's elsewhere."""

from __future__ import annotations

import asyncio

__all__ = ["new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A fresh uvloop loop (asyncio's own on Windows, where uvloop does not exist).

    Also a `loop_factory` for `asyncio.Runner`.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
