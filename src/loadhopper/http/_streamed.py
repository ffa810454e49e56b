"""The Response of a `stream=True` request, whose body is read from the network on demand.

`StreamedResponse` is a Response whose `content` is a property: reading it reads the rest
of the body (within max_body_size) from its `BodyStream`, once, and keeps it. Until then the
`content` slot of the base class is unset. `iter_content`, `iter_lines` and their async
twins read the stream piece by piece instead of slicing `content`.

With `catch_response=True` the same behaviour is needed on a ResponseContextManager, so it
lives in a mixin shared by both classes (each adds the `_stream` slot itself: two bases
that both add slots cannot be combined).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from loadhopper._bridge import await_, in_bridge
from loadhopper._exceptions import BridgeError, LocustError, StreamConsumedError
from loadhopper.http._catch import RequestSink, ResponseContextManager, Sample
from loadhopper.http._response import STRICT_WITH_MESSAGE, Response
from loadhopper.http._stream import BodyStream

__all__ = ["StreamedResponse", "StreamedResponseContextManager"]

# The base class's own `content` slot, read and written past the property that shadows it.
_CONTENT = vars(Response)["content"]

# The mixin is a Response to the type checker; at run time it must add no layout of its own.
if TYPE_CHECKING:
    _Base = Response
else:
    _Base = object


class _StreamedBody(_Base):
    """What a streamed response does differently: its body comes from `_stream`."""

    if not TYPE_CHECKING:
        __slots__ = ()
    _stream: BodyStream | None  # None once the whole body is in `content`

    @property
    def content(self) -> bytes:
        """The body: for a streamed one, the rest of it, read now (within max_body_size).

        Raises:
            BridgeError: in an `async def` task, which must `await response.aread()`.
            StreamConsumedError: the body was already read by iterating over it.
            RequestError: the body could not be read (reset, timeout, too large...).
        """
        if self._stream is None:
            content: bytes = _CONTENT.__get__(self, Response)
            return content
        if not in_bridge():
            raise BridgeError(
                "a streamed body cannot be read with .content in an `async def` task; "
                "use `await response.aread()`"
            )
        return self._store(await_(self._unconsumed().read_all()))

    @content.setter
    def content(self, value: bytes) -> None:
        _CONTENT.__set__(self, value)

    async def aread(self) -> bytes:
        """The rest of the body (within max_body_size), for `async def` tasks."""
        if self._stream is None:
            return self.content
        return self._store(await self._unconsumed().read_all())

    def _store(self, content: bytes) -> bytes:
        _CONTENT.__set__(self, content)
        self._stream = None  # the body is in `content` now; the connection was given back
        return content

    def _unconsumed(self) -> BodyStream:
        stream = self._stream
        assert stream is not None
        if stream.finished:
            raise StreamConsumedError(
                "the streamed body was already read by iterating over it; keep the pieces "
                "as they come, or read it once with .content"
            )
        return stream

    def _pieces(self, chunk_size: int | None) -> Iterator[bytes]:
        if self._stream is None:
            yield from super()._pieces(chunk_size)
            return
        stream = self._unconsumed()
        while True:
            piece = stream.read_ready(chunk_size)  # no bridge round trip when it is here
            if piece is None:
                piece = await_(stream.read(chunk_size))
            if not piece:
                return
            yield piece

    async def _apieces(self, chunk_size: int | None) -> AsyncIterator[bytes]:
        if self._stream is None:
            async for piece in super()._apieces(chunk_size):
                yield piece
            return
        stream = self._unconsumed()
        while piece := await stream.read(chunk_size):
            yield piece

    def close(self) -> None:
        """Drop the body if it was not read to its end (its connection is closed)."""
        if self._stream is not None:
            self._stream.close()

    def _line_limit(self) -> int | None:
        return None if self._stream is None else self._stream.max_body_size


class StreamedResponse(_StreamedBody, Response):
    """A Response whose body stays on its connection until the task reads it.

    Attributes:
        announced: the Content-Length it announced, else 0 (what its sample records).
    """

    __slots__ = ("_stream", "announced")

    def __init__(self, response: Response, stream: BodyStream) -> None:
        for descriptor in _RESPONSE_SLOTS:
            descriptor.__set__(self, descriptor.__get__(response, Response))
        self._stream = stream
        self.announced = stream.announced


class StrictStreamedResponse(StreamedResponse):
    """A streamed Response under `--strict-locust` (see `StrictResponse`)."""

    __slots__ = ()

    def __enter__(self) -> Response:
        raise LocustError(STRICT_WITH_MESSAGE)


class StreamedResponseContextManager(_StreamedBody, ResponseContextManager):
    """`catch_response=True` on a streamed response."""

    __slots__ = ("_stream",)

    def __init__(self, response: StreamedResponse, sink: RequestSink, sample: Sample) -> None:
        # Exiting the block records the sample and leaves the body readable, as in Locust.
        super().__init__(response, sink, sample)
        self._stream = response._stream


# A streamed body's `content` stays unset until read, and `_request` until asked for.
_RESPONSE_SLOTS = tuple(
    vars(Response)[slot] for slot in Response.__slots__ if slot not in ("content", "_request")
)
