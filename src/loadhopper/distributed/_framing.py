"""Frames over a stream socket: a 4-byte big-endian length, then the frame's bytes.

The pipe transport's parent and children speak it, and so do a Ray actor and the worker
process it starts (`_ray_child.py`). What a frame means is the caller's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["MAX_FRAME", "Send", "framed", "read_frames", "serve_on_socket"]

_HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024  # far above any window delta (bounded at a few MB)

Send = Callable[[bytes], None]


def framed(frame: bytes) -> bytes:
    """`frame` with its length in front, ready to write."""
    return _HEADER.pack(len(frame)) + frame


async def read_frames(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Each frame the peer writes, until it closes (or the connection breaks)."""
    while True:
        try:
            header = await reader.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes is beyond the {MAX_FRAME} limit")
            yield await reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            return


async def serve_on_socket(
    sock: socket.socket, run: Callable[[AsyncIterator[bytes], Send], Awaitable[int]]
) -> int:
    """Run `run(frames, send)` over `sock` on the running loop; flush what it sent; its code."""
    reader, writer = await asyncio.open_connection(sock=sock)

    def send(frame: bytes) -> None:
        writer.write(framed(frame))

    try:
        return await run(read_frames(reader), send)
    finally:
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
