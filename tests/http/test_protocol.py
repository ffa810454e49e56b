"""The sans-IO response reader and request serializer, with scripted bytes only."""

from __future__ import annotations

import pytest

from loadhopper._exceptions import RemoteProtocolError
from loadhopper.http._protocol import (
    RawResponse,
    ResponseReader,
    build_header_block,
    serialize_request,
)

SIMPLE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
)


def feed_all(reader: ResponseReader, chunks: list[bytes]) -> RawResponse | None:
    result = None
    for chunk in chunks:
        assert result is None, "the response completed before all bytes were fed"
        result = reader.feed(chunk)
    return result


def splits(data: bytes) -> list[list[bytes]]:
    """Every way to cut `data` in two, plus one byte at a time."""
    cuts = [[data[:i], data[i:]] for i in range(1, len(data))]
    return [*cuts, [data[i : i + 1] for i in range(len(data))]]


@pytest.mark.parametrize("data", [SIMPLE, CHUNKED], ids=["content-length", "chunked"])
def test_every_split_of_the_bytes_gives_the_same_response(data: bytes) -> None:
    expected_body = b"hello" if data is SIMPLE else b"hello world"
    for chunks in splits(data):
        reader = ResponseReader()
        reader.start()
        result = feed_all(reader, chunks)
        assert result is not None
        assert (result.status, result.body, result.keep_alive) == (200, expected_body, True)


def test_status_reason_and_raw_headers_are_kept() -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(SIMPLE)
    assert result is not None
    assert result.reason == b"OK"
    assert result.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]


def test_chunked_trailers_are_not_mixed_into_the_headers() -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(CHUNKED)
    assert result is not None
    assert [name for name, _ in result.headers] == [b"Transfer-Encoding"]


def test_a_close_delimited_body_completes_at_eof() -> None:
    reader = ResponseReader()
    reader.start()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\npart one, ") is None
    assert reader.feed(b"part two") is None
    result = reader.feed_eof()
    assert (result.body, result.keep_alive) == (b"part one, part two", False)


def test_head_responses_have_no_body_whatever_content_length_says() -> None:
    reader = ResponseReader()
    reader.start(head=True)
    result = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
    assert result is not None
    assert (result.status, result.body, result.keep_alive) == (200, b"", True)
    # The same reader then reads the next (GET) response normally.
    reader.start()
    assert reader.feed(SIMPLE) is not None


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body(status: int) -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(f"HTTP/1.1 {status} X\r\nContent-Length: 7\r\n\r\n".encode())
    assert result is not None
    assert (result.status, result.body) == (status, b"")


def test_100_continue_is_skipped() -> None:
    reader = ResponseReader()
    reader.start()
    data = b"HTTP/1.1 100 Continue\r\n\r\n" + SIMPLE
    for chunks in splits(data):
        reader = ResponseReader()
        reader.start()
        result = feed_all(reader, chunks)
        assert result is not None
        assert (result.status, result.body) == (200, b"hello")
        assert (b"Content-Type", b"text/plain") in result.headers


def test_101_switching_protocols_is_refused() -> None:
    reader = ResponseReader()
    reader.start()
    with pytest.raises(RemoteProtocolError, match="switched protocols"):
        reader.feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")


@pytest.mark.parametrize(
    "status_line",
    [b"HTTX/1.1 200 OK\r\n", b"HTTP/1.1 2000 OK\r\n", b"garbage\r\n", b"HTTP/1.1 OK\r\n"],
)
def test_malformed_status_lines_are_protocol_errors(status_line: bytes) -> None:
    reader = ResponseReader()
    reader.start()
    with pytest.raises(RemoteProtocolError, match="malformed"):
        reader.feed(status_line + b"Content-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["bad-length", "two-lengths", "bad-chunk-size"],
)
def test_bad_framing_is_a_protocol_error(response: bytes) -> None:
    reader = ResponseReader()
    reader.start()
    with pytest.raises(RemoteProtocolError):
        reader.feed(response)


def test_oversize_headers_in_one_chunk_are_refused() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    big = b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"a" * 2000 + b"\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(RemoteProtocolError, match="exceed 1024 bytes"):
        reader.feed(big)


def test_oversize_headers_that_never_end_are_refused() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nX-Big: ")
    with pytest.raises(RemoteProtocolError, match="exceed 1024 bytes"):
        for _ in range(100):
            reader.feed(b"a" * 100)


def test_a_large_body_is_not_counted_as_headers() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    body = b"b" * 100_000
    result = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + body)
    assert result is not None and result.body == body


def test_early_close_mid_body_is_an_error() -> None:
    reader = ResponseReader()
    reader.start()
    assert reader.feed(SIMPLE[:-2]) is None
    with pytest.raises(RemoteProtocolError, match="before the response was complete"):
        reader.feed_eof()


def test_early_close_mid_headers_is_an_error() -> None:
    reader = ResponseReader()
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nContent-")
    with pytest.raises(RemoteProtocolError, match="before the response was complete"):
        reader.feed_eof()


def test_close_before_any_byte_is_an_error() -> None:
    reader = ResponseReader()
    reader.start()
    assert not reader.started
    with pytest.raises(RemoteProtocolError, match="without sending a response"):
        reader.feed_eof()


@pytest.mark.parametrize(
    ("response", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
    ],
    ids=["1.1", "1.1-close", "1.0", "1.0-keep-alive"],
)
def test_keep_alive_decision(response: bytes, keep_alive: bool) -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(response)
    assert result is not None and result.keep_alive is keep_alive


def test_bytes_after_a_complete_response_forbid_reuse() -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(SIMPLE + b"HTTP/1.1 200 OK\r\n\r\n")
    assert result is not None and result.keep_alive is False


def test_one_reader_serves_many_responses_on_a_connection() -> None:
    reader = ResponseReader()
    for _ in range(3):
        reader.start()
        result = reader.feed(SIMPLE)
        assert result is not None and result.body == b"hello"


def test_a_finished_reader_keeps_nothing_of_its_response() -> None:
    import gc

    reader = ResponseReader()
    reader.start()
    result = reader.feed(SIMPLE)
    assert result is not None
    # An idle keep-alive connection must not hold its last response's headers and body.
    assert reader not in gc.get_referrers(result.headers)
    assert reader not in gc.get_referrers(result.headers[0])
    reader.start()
    assert reader.feed(SIMPLE) is not None  # and it still serves the next one


def test_the_headers_the_client_acts_on_are_picked_out() -> None:
    reader = ResponseReader()
    reader.start()
    result = reader.feed(
        b"HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nLocation: /next\r\n"
        b"set-cookie: b=2\r\nContent-Encoding: GZIP\r\nContent-Length: 0\r\n\r\n"
    )
    assert result is not None
    assert result.set_cookies == [b"a=1", b"b=2"]
    assert result.location == b"/next"
    assert result.content_encoding == b"gzip"
    # ...and do not leak into the next response.
    reader.start()
    result = reader.feed(SIMPLE)
    assert result is not None
    assert (result.set_cookies, result.location, result.content_encoding) == (None, None, None)


def test_serialize_request_and_header_block() -> None:
    block = build_header_block([("Host", "example.com"), ("X-A", "1")])
    assert block == b"Host: example.com\r\nX-A: 1\r\n"
    wire = serialize_request(b"POST", b"/p?q=1", block + b"Content-Length: 2\r\n", b"hi")
    assert wire == (
        b"POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nhi"
    )


@pytest.mark.parametrize("bad", [("X-A", "1\r\nX-Injected: 2"), ("X:B", "1"), ("", "v")])
def test_header_injection_is_refused(bad: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="line break, NUL or colon"):
        build_header_block([bad])
