"""One HTTP/1.1 connection: an asyncio Protocol that drives the sans-IO ResponseReader.

An `asyncio.Protocol` rather than streams: the loop calls `data_received` directly with
each chunk, with no StreamReader buffer and no extra coroutine hop per read (streams cost
several microseconds more per request on uvloop). One request is in flight at a time; its
result is a future that `data_received` resolves when the reader says the response is
complete (with `stream=True`: when its headers are complete; the body is then buffered
here, a little at a time, and read with `take_chunk` / `wait_body`).

Timers. One timer per request, and none at all without a timeout. The read timeout means
what it means in requests: the longest gap between two bytes (the first one included), not
a deadline for the whole response, so a large download that keeps sending never fails
because it takes long. Rescheduling a timer per chunk would cost every multi-chunk
response; instead `data_received` notes the loop time of a read that did not complete the
response, and a timer that fires and finds that bytes came meanwhile re-arms itself for the
rest of the interval. The whole-response `deadline` shares that timer (it fires at
whichever is due first). For a streamed body the clock runs only while the task waits for
bytes: time it spends elsewhere, with the socket paused, is not a stall.

Errors are translated here, at the boundary, into the loadhopper family: OSError and
ssl errors never leak past this module. Opening a connection (directly or through a proxy)
is `_connect.open_connection`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, NamedTuple, Protocol, cast

from loadhopper._exceptions import (
    DeadlineExceeded,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    RequestError,
)
from loadhopper.http._limits import DEFAULT_MAX_BODY_SIZE
from loadhopper.http._protocol import RawResponse, ResponseReader

__all__ = ["Connection", "Deadline"]

# Stream flow control: stop reading from the socket when this much of a streamed body waits
# unread, and start again when the task has read it down to the low mark. One socket read
# (256 KiB on uvloop) may land on top, so a stream holds at most about 320 KiB.
_HIGH_WATER = 64 * 1024
_LOW_WATER = 16 * 1024

# libuv timers and uvloop's clock are millisecond-grained: a timer may fire up to a
# millisecond before the instant it was asked for, which must not re-arm it for nothing.
_SLACK = 0.001


class Waiter(Protocol):
    """What a request's response is delivered to: an asyncio Future, or a parked bridge
    worker (`_bridge.Worker`), which the callback then resumes directly."""

    def done(self) -> bool: ...

    def set_result(self, result: Any, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...


class Deadline(NamedTuple):
    """A whole-response deadline: the loop time it falls at, and the seconds it was given."""

    at: float
    seconds: float

    def exceeded(self) -> DeadlineExceeded:
        """The failure once it has passed (one message per configured deadline)."""
        return DeadlineExceeded(
            f"the response did not complete within the deadline of {self.seconds:g} s"
        )


class _Chunks(deque[bytes]):
    """The parsed, not yet read pieces of a streamed body, and their size in bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0

    def append(self, piece: bytes) -> None:  # called by the reader's on_body
        self.buffered += len(piece)
        super().append(piece)

    def take(self) -> bytes:
        piece = self.popleft()
        self.buffered -= len(piece)
        return piece


class _Stream:
    """The state of a `stream=True` body being read through this connection."""

    __slots__ = ("chunks", "done", "error", "paused", "waiter")

    def __init__(self) -> None:
        self.chunks = _Chunks()
        self.done = False  # the message has ended (the chunks may still hold its tail)
        self.paused = False  # reading from the socket is paused (the chunks are full)
        self.error: RequestError | None = None
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Connection(asyncio.Protocol):
    """A keep-alive connection carrying one request at a time.

    Attributes:
        closed: the connection can carry no further request (peer closed, error, or the last
            response said `Connection: close`).
        responses: how many responses it has delivered; a connection with `responses > 0`
            is a reused one, so a failure before the first byte of the next response may
            just mean the server dropped it while idle.
        generation: the pool's generation when it was opened (see ConnectionPool.close).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_header_bytes: int) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._reader = ResponseReader(max_header_bytes)
        self._waiter: Waiter | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._read_timeout: float | None = None
        self._deadline: Deadline | None = None
        self._last_read = 0.0  # loop time of the last read (only kept while a timer runs)
        self._stream: _Stream | None = None
        self.closed = False
        self.responses = 0
        self.generation = 0  # set by the pool that opened it

    @property
    def received_any(self) -> bool:
        """Whether any byte of the current response has arrived."""
        return self._reader.started

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports do not subclass asyncio's.
        self._transport = cast(asyncio.Transport, transport)

    def send(
        self,
        data: bytes,
        head: bool,
        read_timeout: float | None,
        max_body: int = DEFAULT_MAX_BODY_SIZE,
        deadline: Deadline | None = None,
        stream: bool = False,
    ) -> asyncio.Future[RawResponse]:
        """Write one request; the future resolves with its response or a RequestError.

        With `stream`, the future resolves at the end of the headers and the body is read
        with `take_chunk` and `wait_body`, then handed back with `end_stream`.

        Raises:
            ReadError: the connection is already closed (nothing was sent).
        """
        waiter: asyncio.Future[RawResponse] = self._loop.create_future()
        self.send_to(waiter, data, head, read_timeout, max_body, deadline, stream)
        return waiter

    def send_to(
        self,
        waiter: Waiter,
        data: bytes,
        head: bool,
        read_timeout: float | None,
        max_body: int = DEFAULT_MAX_BODY_SIZE,
        deadline: Deadline | None = None,
        stream: bool = False,
    ) -> None:
        """`send`, with the response delivered to `waiter` (a parked worker, on the hot path).

        Raises:
            ReadError: the connection is already closed (nothing was sent).
        """
        if stream:
            state = self._stream = _Stream()
            self._reader.start_stream(head, state.chunks)
            # The body's reads are timed later, in wait_body: these must be this request's.
            self._read_timeout = read_timeout
            self._deadline = deadline
        else:
            self._reader.start(head, max_body)
        transport = self._transport
        try:
            if transport is None or transport.is_closing():
                raise RuntimeError("closed")
            transport.write(data)
        except RuntimeError as exc:
            # Closed under us: the peer's FIN not yet seen, or the connection's event loop is
            # gone (uvloop raises RuntimeError for a closed handle).
            self.closed = True
            self._stream = None
            raise ReadError("the connection closed before the request could be sent") from exc
        self._waiter = waiter
        if read_timeout is not None or deadline is not None:
            self._read_timeout = read_timeout
            self._deadline = deadline
            self._last_read = self._loop.time()
            self._timer = self._loop.call_at(self._due(), self._on_timer)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None:
            self._data_without_request(data)
            return
        try:
            response = self._reader.feed(data)
        except RequestError as exc:
            self._finish(exc)
            self.close()
            return
        if response is None:
            if self._timer is not None:
                self._last_read = self._loop.time()  # see "Timers" at the top
            return
        self.responses += 1
        stream = self._stream
        if stream is not None:
            self._finish(response)
            self._stream_fed(stream)
            return
        if not response.keep_alive:
            self.close()
        # `_finish`, inlined: this runs once per response, and a call costs a tenth of it.
        self._waiter = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not waiter.done():
            waiter.set_result(response)

    def _data_without_request(self, data: bytes) -> None:
        stream = self._stream
        if stream is None or stream.done:
            # Bytes nobody asked for: the connection is out of step and cannot be reused.
            self.close()
            return
        try:
            self._reader.feed(data)
        except RequestError as exc:
            stream.error = exc
            self.close()
            stream.wake()
            return
        if self._timer is not None:
            self._last_read = self._loop.time()
        self._stream_fed(stream)

    def _stream_fed(self, stream: _Stream) -> None:
        """After body bytes of a stream were parsed: note its end, or pause if it is full."""
        reader = self._reader
        if reader.complete:
            stream.done = True
            if not reader.keep_alive:
                self.close()
        elif not stream.paused and stream.chunks.buffered > _HIGH_WATER:
            transport = self._transport
            if transport is not None:
                transport.pause_reading()
                stream.paused = True
        stream.wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        stream = self._stream
        if self._waiter is None:
            if stream is not None and not stream.done:
                self._stream_lost(stream, exc)
            return
        if exc is not None:
            self._finish(ReadError(f"the connection was reset while awaiting the response ({exc})"))
            return
        try:
            raw = self._reader.feed_eof()
        except RemoteProtocolError as error:
            self._finish(error)
            return
        if stream is not None:
            stream.done = True
        self._finish(raw)

    def _stream_lost(self, stream: _Stream, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if stream.error is not None:
            return  # closed because of that error (a timeout, a bad chunk): it stands
        if exc is not None:
            stream.error = ReadError(f"the connection was reset while the body was read ({exc})")
        else:
            try:
                self._reader.feed_eof()  # a close-delimited body ends here
            except RemoteProtocolError as error:
                stream.error = error
            else:
                stream.done = True
        stream.wake()

    def _on_timer(self) -> None:
        self._timer = None
        stream = self._stream
        if self._waiter is None and (stream is None or stream.waiter is None):
            return  # a streamed body nobody is reading: its clock runs only while a task waits
        loop = self._loop
        now = loop.time()
        deadline = self._deadline
        if deadline is not None and now >= deadline.at - _SLACK:
            self._fail(deadline.exceeded())
            return
        read_timeout = self._read_timeout
        if read_timeout is not None and now - self._last_read >= read_timeout - _SLACK:
            self._fail(self._read_timeout_error(read_timeout))
            return
        # Bytes came meanwhile: wait for the rest of the interval (or up to the deadline).
        self._timer = loop.call_at(self._due(), self._on_timer)

    def _due(self) -> float:
        """When the timer must fire next: the end of the read interval, or the deadline."""
        read_timeout, deadline = self._read_timeout, self._deadline
        if read_timeout is None:
            return cast(Deadline, deadline).at
        due = self._last_read + read_timeout
        return due if deadline is None or due < deadline.at else deadline.at

    def _read_timeout_error(self, seconds: float) -> ReadTimeout:
        if self._waiter is not None and not self._reader.started:
            return ReadTimeout(f"no response within the read timeout of {seconds:g} s")
        return ReadTimeout(
            f"the response stalled: no byte for longer than the read timeout of {seconds:g} s"
        )

    def _fail(self, error: RequestError) -> None:
        """End the request in flight (or the stream being read) with `error`; never reused."""
        stream = self._stream
        if self._waiter is not None:
            self._finish(error)
        elif stream is not None:
            stream.error = error
            stream.wake()
        self.close()

    def _finish(self, outcome: RawResponse | RequestError) -> None:
        waiter, self._waiter = self._waiter, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, RequestError):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)

    # --- a streamed body -----------------------------------------------------------------

    def take_chunk(self) -> bytes | None:
        """The next piece of a streamed body: bytes, b"" at its end, None if none is here yet.

        Raises:
            RequestError: the body could not be read to its end (reset, timeout, bad framing).
        """
        stream = cast(_Stream, self._stream)
        chunks = stream.chunks
        if chunks:
            chunk = chunks.take()
            if stream.paused and chunks.buffered <= _LOW_WATER:
                self._resume(stream)
            return chunk
        if stream.error is not None:
            raise stream.error
        if stream.done:
            return b""
        return None

    def wait_body(self) -> asyncio.Future[None]:
        """A future that resolves when `take_chunk` has something new to say."""
        stream = cast(_Stream, self._stream)
        if stream.paused:
            self._resume(stream)
        waiter = self._loop.create_future()
        stream.waiter = waiter
        if self._read_timeout is not None or self._deadline is not None:
            # The gap clock starts now: time the task spent not reading is not a stall.
            self._last_read = self._loop.time()
            if self._timer is None:
                self._timer = self._loop.call_at(self._due(), self._on_timer)
        return waiter

    def _resume(self, stream: _Stream) -> None:
        stream.paused = False
        transport = self._transport
        if transport is not None and not self.closed:
            transport.resume_reading()

    @property
    def body_arrived(self) -> bool:
        """Whether the whole streamed message has arrived (read or not), without error."""
        stream = self._stream
        return stream is not None and stream.done and stream.error is None

    def end_stream(self) -> bool:
        """Finish a streamed body read to its end; return whether the connection is reusable."""
        stream = self._stream
        self._stream = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reusable = (
            stream is not None
            and stream.done
            and stream.error is None
            and not self.closed
            and self._reader.keep_alive
        )
        if reusable and cast(_Stream, stream).paused:
            self._resume(cast(_Stream, stream))
        return reusable

    # --- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection now (idempotent), even after its event loop has closed."""
        self.closed = True
        if self._transport is not None:
            try:
                self._transport.close()
            except RuntimeError:
                # uvloop's TLS transport schedules its shutdown on the loop, and raises when
                # that loop is closed (a pool emptied after its run): nothing is left to close.
                self._transport = None

    def abort(self) -> None:
        """Drop the connection without flushing, e.g. when its request was cancelled."""
        self.closed = True
        self._waiter = None
        self._stream = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.abort()
