"""The body of a `stream=True` response, read from its connection only as the task asks.

Theory of operation. With `stream=True` the session records the request when its headers
arrive (as Locust's HttpSession does) and hands the task a Response whose body has not been
read: a `BodyStream` over the connection it came on. The connection buffers at most a
small window of the body and pauses reading from the socket when that is full
(`_connection._HIGH_WATER`), so a 2 GiB or endless body costs the client a few hundred KiB,
not its size. Each read takes pieces from that buffer, decodes them when the response has a
Content-Encoding (`StreamDecoder`, a bounded step per call), and waits on the connection
only when nothing is buffered.

The connection goes back to the pool only once the body was read to its end; a stream
closed before that (`close()`, garbage collection, or the session's next request) closes
its connection, since the rest of the body would otherwise arrive as the next response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import NoReturn

from loadhopper._exceptions import ReadError, RequestError
from loadhopper.http._connection import Connection
from loadhopper.http._decode import PieceDecoder, decoded_too_large, stream_decoder
from loadhopper.http._limits import BodyLimits
from loadhopper.http._protocol import body_too_large

__all__ = ["DECODE_STEP", "BodyStream"]

DECODE_STEP = 64 * 1024
"""Most decoded bytes produced from a streamed body per step (a compression bomb's bound)."""

_YIELD_EVERY = 1024 * 1024  # `read_all` lets the loop run after this much work without a wait


class BodyStream:
    """The unread body of a streamed response.

    Attributes:
        announced: the body length the response announced (Content-Length), else 0: what
            the sample records, as in Locust.
        finished: the body was read to its end.
    """

    __slots__ = (
        "__weakref__",
        "_buffer",
        "_closed",
        "_connection",
        "_decoder",
        "_error",
        "_limits",
        "_raw_read",
        "_release",
        "announced",
        "finished",
    )

    def __init__(
        self,
        connection: Connection,
        release: Callable[[Connection], None],
        encoding: bytes | None,
        limits: BodyLimits,
        announced: int,
    ) -> None:
        self._connection: Connection | None = connection
        self._release = release
        self._decoder = None if encoding is None else stream_decoder(encoding)
        self._limits = limits
        self._buffer = bytearray()  # decoded bytes read from the connection, not yet returned
        self._raw_read = 0
        self._closed = False
        self._error: RequestError | None = None
        self.announced = announced
        self.finished = False

    @property
    def max_body_size(self) -> int:
        """The bound on what `read_all` (a response's `.content`) may read."""
        return self._limits.max_body_size

    # --- reading ---------------------------------------------------------------------------

    async def read(self, size: int | None) -> bytes:
        """The next `size` bytes of the body (fewer only at its end), or b"" at the end.

        With `size` None, whatever is there (at least one byte unless the body has ended).

        Raises:
            RequestError: the body could not be read (reset, timeout, bad data, closed).
        """
        while True:
            piece = self.read_ready(size)
            if piece is not None:
                return piece
            await self._wait()

    def read_ready(self, size: int | None) -> bytes | None:
        """What `read` would return without waiting, or None if it has to wait first."""
        buffer = self._buffer
        if size is None:
            if buffer:
                whole = bytes(buffer)
                buffer.clear()
                return whole
            return self._next_piece()
        while len(buffer) < size:
            piece = self._next_piece()
            if piece is None:
                return None
            if not piece:
                break  # the end of the body: what is left, possibly nothing
            if not buffer and len(piece) == size:
                return piece
            buffer += piece
        head = bytes(buffer[:size])
        del buffer[:size]
        return head

    async def read_all(self) -> bytes:
        """The rest of the body, within the session's `BodyLimits`.

        Raises:
            ResponseTooLarge: the rest is larger than max_body_size, or decodes past
                max_decoded_size.
            RequestError: the body could not be read (reset, timeout, bad data, closed).
        """
        pieces = [bytes(self._buffer)]
        self._buffer.clear()
        size = len(pieces[0])
        limits = self._limits
        decoded_limit = limits.max_decoded_size if self._decoder is not None else None
        raw_limit = self._raw_read + limits.max_body_size
        since_wait = 0
        while True:
            piece = self._next_piece()
            if piece is None:
                since_wait = 0
                await self._wait()
                continue
            if not piece:
                return b"".join(pieces)
            # On failure the pieces go first: the error's traceback holds this frame.
            if self._raw_read > raw_limit:
                pieces.clear()
                self._fail(body_too_large(limits.max_body_size))
            size += len(piece)
            if decoded_limit is not None and size > decoded_limit:
                pieces.clear()
                self._fail(decoded_too_large(decoded_limit))
            pieces.append(piece)
            since_wait += len(piece)
            if since_wait > _YIELD_EVERY:
                # A burst of buffered or highly compressed data: let the other users run.
                since_wait = 0
                await asyncio.sleep(0)

    def _next_piece(self) -> bytes | None:
        """The next decoded piece: bytes, b"" at the end of the body, None to wait first."""
        decoder = self._decoder
        while True:
            if decoder is not None and decoder.pending:
                piece = self._decode(decoder, b"")
                if piece:
                    return piece
                continue
            connection = self._live()
            if connection is None:
                return b""  # read to its end already
            try:
                raw = connection.take_chunk()
            except RequestError as exc:
                self._fail(exc)
            if raw is None:
                return None
            if not raw:
                if decoder is not None:
                    try:
                        decoder.finish()
                    except RequestError as exc:
                        self._fail(exc)
                self._end()
                return b""
            self._raw_read += len(raw)
            if decoder is None:
                return raw
            piece = self._decode(decoder, raw)
            if piece:
                return piece

    def _decode(self, decoder: PieceDecoder, raw: bytes) -> bytes:
        try:
            return decoder.decode(raw, DECODE_STEP)
        except RequestError as exc:
            self._fail(exc)

    async def _wait(self) -> None:
        connection = self._live()
        if connection is not None:
            await connection.wait_body()

    def _live(self) -> Connection | None:
        """The connection to read from (None once the body was read to its end).

        Raises:
            RequestError: the stream failed earlier, or was closed before its end.
        """
        if self._error is not None:
            raise self._error
        if self._closed:
            raise ReadError(
                "the streamed response was closed before its body was read; read it before "
                "closing it (or before the session's next request)"
            )
        return self._connection

    def _fail(self, error: RequestError) -> NoReturn:
        """Close the stream for good and raise `error` (again on every later read)."""
        self._error = error
        self._drop()
        raise error

    # --- ending ------------------------------------------------------------------------------

    def _end(self) -> None:
        """The body was read to its end: give the connection back if it can be reused."""
        connection, self._connection = self._connection, None
        self.finished = True
        if connection is not None:
            if connection.end_stream():
                self._release(connection)
            else:
                connection.close()

    def close(self) -> None:
        """Stop reading (idempotent); later reads raise.

        If the whole message had arrived, its connection goes back to the pool (what was
        not read is dropped); if not, the rest would arrive as the next response, so the
        connection is closed instead.
        """
        if not self.finished:
            self._closed = True
        self._let_go()

    def _let_go(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if connection.body_arrived and connection.end_stream():
            self._release(connection)
        else:
            connection.abort()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abort()

    def __del__(self) -> None:
        # A streamed response dropped unread: its connection must not stay open, half read.
        # Garbage collection may run after the loop closed, so nothing here may raise.
        with contextlib.suppress(Exception):
            self._let_go()
