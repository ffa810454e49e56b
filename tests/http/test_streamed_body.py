"""`stream=True`: recorded at the headers, the body read on demand within a small buffer."""

from __future__ import annotations

import asyncio

import pytest
from _loopback import Recorder, Server, run_blocking, text_body

from loadhopper._bridge import await_
from loadhopper._exceptions import (
    BridgeError,
    ReadError,
    ReadTimeout,
    ResponseTooLarge,
    StreamConsumedError,
)
from loadhopper.http import BodyLimits, HttpSession, Response, ResponseContextManager
from loadhopper.http._stream import DECODE_STEP

MIB = 1 << 20
# What a paused stream may hold: the 64 KiB high-water mark plus one socket read (uvloop
# reads up to 256 KiB at a time), with room to spare.
BUFFER_BOUND = 512 * 1024


def buffered(response: Response) -> int:
    """The bytes of body the connection holds for the task (white box: the bound under test)."""
    connection = response._stream._connection  # type: ignore[attr-defined]
    return int(connection._stream.chunks.buffered)


def test_a_streamed_body_is_recorded_at_the_headers_and_read_in_exact_pieces(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[list[int], bytes]:
        response = session.get("/big?n=3000000", stream=True)
        assert len(sink.samples) == 1  # recorded before any body byte was read
        sizes = [len(piece) for piece in response.iter_content(65536)]
        return sizes, session.get("/ok").content

    sizes, ok = run_blocking(task)
    assert sum(sizes) == 3_000_000 and set(sizes[:-1]) == {65536}
    first = sink.samples[0]
    assert first[3] == 3_000_000 and first[6] is None  # Content-Length, as Locust records
    assert ok == b"ok"
    assert server.connections == 1  # read to its end: the connection went back to the pool


def test_an_endless_body_stays_within_a_small_buffer(own_server: Server, sink: Recorder) -> None:
    session = HttpSession(own_server.url, request_sink=sink)

    def task() -> tuple[int, list[int]]:
        response = session.get("/huge-length", stream=True)  # 2 GiB, as fast as we read
        pieces = response.iter_content(65536)
        seen = [buffered(response)]
        read = 0
        for piece in pieces:
            read += len(piece)
            if read % MIB == 0:
                await_(asyncio.sleep(0.02))  # a slow reader: the socket must be paused
                seen.append(buffered(response))
            if read >= 8 * MIB:
                break
        response.close()
        return read, seen

    read, seen = run_blocking(task)
    assert read == 8 * MIB
    assert max(seen) <= BUFFER_BOUND, seen
    assert sink.samples[0][3] == 2 << 30
    assert own_server.wait_until_closed()  # closed unread: not kept, not reused


def test_a_dropped_streamed_response_closes_its_connection(own_server: Server) -> None:
    # A sink that keeps nothing: once the task lets go of the response, nothing holds it.
    session = HttpSession(own_server.url, request_sink=lambda *sample: None)

    def task() -> int:
        session.get("/huge-length", stream=True)  # never read, not kept
        for _ in range(400):  # bounded wait for the server to see the close
            if own_server.open == 0:
                break
            await_(asyncio.sleep(0.005))
        return own_server.open

    assert run_blocking(task) == 0


def test_the_next_request_closes_an_unread_stream(own_server: Server, sink: Recorder) -> None:
    session = HttpSession(own_server.url, request_sink=sink)

    def task() -> tuple[Response, bytes]:
        streamed = session.get("/huge-length", stream=True)
        return streamed, session.get("/ok").content

    streamed, ok = run_blocking(task)
    assert ok == b"ok"
    with pytest.raises(ReadError, match="closed before its body was read"):
        run_blocking(lambda: next(streamed.iter_content(1024)))


def test_content_reads_the_rest_within_the_body_bound(server: Server, sink: Recorder) -> None:
    limits = BodyLimits(max_body_size=MIB, max_decoded_size=MIB)
    session = HttpSession(server.url, request_sink=sink, body_limits=limits)

    def task() -> tuple[bytes, bytes]:
        small = session.get("/big?n=100000", stream=True)
        head = next(small.iter_content(1000))
        rest = small.content  # the rest of it
        big = session.get("/big?n=3000000", stream=True)
        with pytest.raises(ResponseTooLarge, match="larger than 1048576 bytes"):
            big.content  # noqa: B018
        return head, rest

    head, rest = run_blocking(task)
    assert len(head) == 1000 and len(rest) == 99_000
    assert [s[6] for s in sink.samples] == [None, None]  # both recorded fine, at the headers


def test_a_streamed_gzip_body_is_decoded_as_it_is_read(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[bytes, bytes]:
        iterated = b"".join(session.get("/gzip-stream?n=300000", stream=True).iter_content(None))
        whole = session.get("/gzip-stream?n=300000", stream=True).content
        return iterated, whole

    iterated, whole = run_blocking(task)
    assert iterated == whole == text_body(300_000)


def test_a_streamed_gzip_bomb_is_bounded_both_ways(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[int]:
        bomb = session.get("/bomb?mib=1024", stream=True)
        with pytest.raises(ResponseTooLarge, match="decodes to more than 67108864 bytes"):
            bomb.content  # noqa: B018
        iterated = session.get("/bomb?mib=1024", stream=True)
        sizes = []
        for piece in iterated.iter_content(None):
            sizes.append(len(piece))
            if len(sizes) == 100:
                break
        iterated.close()
        return sizes

    sizes = run_blocking(task)
    assert max(sizes) <= DECODE_STEP


def test_iter_lines_on_a_stream_and_on_a_plain_response(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    expected = [b"line %d" % i for i in range(500)]

    def task() -> list[list[object]]:
        return [
            list(session.get("/lines?n=500", stream=True).iter_lines(chunk_size=7)),
            list(session.get("/lines?n=500").iter_lines()),
            list(session.get("/lines?n=3", stream=True).iter_lines(decode_unicode=True)),
        ]

    streamed, plain, text = run_blocking(task)
    assert streamed == plain == expected
    assert text == ["line 0", "line 1", "line 2"]


def test_a_plain_response_iterates_over_its_content(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/big?n=1000"))
    assert [len(p) for p in response.iter_content(300)] == [300, 300, 300, 100]
    assert list(response.iter_content(None)) == [bytes(1000)]


def test_a_body_read_by_iteration_cannot_be_read_again(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> None:
        response = session.get("/big?n=10000", stream=True)
        assert sum(len(p) for p in response.iter_content(4096)) == 10_000
        with pytest.raises(StreamConsumedError):
            next(response.iter_content(4096))
        with pytest.raises(StreamConsumedError):
            response.content  # noqa: B018
        kept = session.get("/big?n=10000", stream=True)
        assert len(kept.content) == 10_000
        assert len(b"".join(kept.iter_content(4096))) == 10_000  # from the kept content

    run_blocking(task)


def test_with_block_closes_and_catch_response_records_once(
    own_server: Server, sink: Recorder
) -> None:
    session = HttpSession(own_server.url, request_sink=sink)

    def task() -> bytes:
        with session.get("/huge-length", stream=True) as response:
            next(response.iter_content(1000))
        with session.get("/big?n=5000", stream=True, catch_response=True) as caught:
            assert isinstance(caught, ResponseContextManager)
            body = caught.content
            caught.failure("checked and refused")
        return body

    body = run_blocking(task)
    assert body == bytes(5000)
    assert [str(s[6]) for s in sink.samples] == ["None", "checked and refused"]
    assert sink.samples[1][3] == 5000


def test_a_streamed_redirect_target(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[bytes, int]:
        response = session.get("/redirect/302?to=/big?n=70000", stream=True)
        return response.content, len(response.history)

    assert run_blocking(task) == (bytes(70_000), 1)
    assert len(sink.samples) == 1 and sink.last["response_length"] == 70_000


def test_a_stall_while_the_task_reads_is_a_read_timeout(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, timeout=0.25)

    def task() -> None:
        response = session.get("/drip?n=6&ms=10&stall=800", stream=True)
        with pytest.raises(ReadTimeout, match=r"read timeout of 0\.25 s"):
            response.content  # noqa: B018

    run_blocking(task)


def test_a_slow_task_is_not_a_stall(server: Server, sink: Recorder) -> None:
    # The read timeout runs only while the task waits for bytes, not while it works.
    session = HttpSession(server.url, request_sink=sink, timeout=0.1)

    def task() -> bytes:
        response = session.get("/big?n=200000", stream=True)
        first = next(response.iter_content(1000))
        await_(asyncio.sleep(0.3))  # the task busy elsewhere, the socket paused
        return first + response.content

    assert run_blocking(task) == bytes(200_000)


def test_async_tasks_read_streams_with_the_async_forms(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> tuple[int, bytes, list[bytes]]:
        iterated = await session.aget("/big?n=200000", stream=True)
        size = 0
        async for piece in iterated.aiter_content(65536):
            size += len(piece)
        whole = await (await session.aget("/big?n=1000", stream=True)).aread()
        lines = [line async for line in (await session.aget("/lines?n=3")).aiter_lines()]
        blocked = await session.aget("/big?n=1000", stream=True)
        with pytest.raises(BridgeError, match=r"await response\.aread\(\)"):
            blocked.content  # noqa: B018
        await blocked.aclose()
        await session.aclose()
        return size, whole, lines

    size, whole, lines = asyncio.run(task())
    assert size == 200_000 and whole == bytes(1000)
    assert lines == [b"line 0", b"line 1", b"line 2"]


def test_closing_a_stream_whose_body_has_arrived_keeps_the_connection(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> bytes:
        small = session.get("/ok", stream=True)  # written in one piece: it came whole
        small.close()  # nothing left on the wire: the connection can carry the next request
        return session.get("/ok").content

    assert run_blocking(task) == b"ok"
    assert server.connections == 1
