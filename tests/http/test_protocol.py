"""The sans-IO response reader and request serializer, with scripted bytes only."""

from __future__ import annotations

from collections import deque

import pytest

from loadhopper._exceptions import RemoteProtocolError, ResponseTooLarge
from loadhopper.http import _protocol
from loadhopper.http._protocol import (
    MAX_HEADERS,
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


@pytest.fixture(autouse=True, params=["c", "pure"])
def reader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs on both paths: with the C fast path, and on llhttp alone."""
    if request.param == "pure":
        monkeypatch.setattr(_protocol, "_FAST", False)  # ResponseReader.start reads it


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
        assert result.reason == b"OK"  # a reason split across two reads is put together


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


def head_with(lines: list[bytes]) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + b"".join(lines) + b"Content-Length: 0\r\n\r\n"


@pytest.mark.parametrize("piece", [1, 7, 1000, 100_000], ids=lambda n: f"reads-of-{n}")
def test_the_header_count_is_bounded_whatever_the_reads(piece: int) -> None:
    # MAX_HEADERS - 1 lines plus Content-Length: exactly at the bound, accepted.
    at_bound = head_with([b"X-H: v\r\n"] * (MAX_HEADERS - 1))
    reader = ResponseReader()
    reader.start()
    result = feed_all(reader, [at_bound[i : i + piece] for i in range(0, len(at_bound), piece)])
    assert result is not None and len(result.headers) == MAX_HEADERS
    # One more: refused.
    over = head_with([b"X-H: v\r\n"] * MAX_HEADERS)
    reader.start()
    with pytest.raises(RemoteProtocolError, match=f"more than {MAX_HEADERS} header lines"):
        for i in range(0, len(over), piece):
            reader.feed(over[i : i + piece])


def test_ten_thousand_headers_in_one_read_stop_the_parser_at_the_bound() -> None:
    # The parser stops inside on_header: had it gone on, the bad line after the headers
    # would have been reported instead, and 10,000 header pairs built first.
    data = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 10_000 + b"\x00bad line\r\n\r\n"
    reader = ResponseReader()
    reader.start()
    with pytest.raises(RemoteProtocolError, match=f"more than {MAX_HEADERS} header lines"):
        reader.feed(data)


def test_header_bytes_over_the_bound_in_one_read_stop_the_parser_at_once() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    # (httptools hands a header over when the next one begins, hence X-C.)
    data = b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"a" * 600 + b"\r\n"
    data += b"X-Big2: " + b"b" * 600 + b"\r\nX-C: c\r\n\x00bad line\r\n\r\n"
    with pytest.raises(RemoteProtocolError, match="exceed 1024 bytes"):
        reader.feed(data)


def test_a_status_line_longer_than_the_header_bound_is_refused() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    with pytest.raises(RemoteProtocolError, match="exceed 1024 bytes"):
        reader.feed(b"HTTP/1.1 200 " + b"r" * 5000 + b"\r\nContent-Length: 0\r\n\r\n")


def test_a_content_length_over_the_body_bound_fails_at_the_headers() -> None:
    reader = ResponseReader()
    reader.start(max_body=1000)
    with pytest.raises(ResponseTooLarge, match=r"larger than 1000 bytes \(max_body_size\)"):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n")
    reader = ResponseReader()
    reader.start(max_body=1000)
    with pytest.raises(ResponseTooLarge):
        reader.feed(b"HTTP/1.1 200 OK\r\ncontent-length: 1001\r\n\r\n")


def test_a_body_exactly_at_the_bound_is_accepted() -> None:
    for chunks in (
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000],
        [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"] + [b"x" * 100] * 10,
    ):
        reader = ResponseReader()
        reader.start(max_body=1000)
        result = feed_all(reader, chunks)
        assert result is not None and len(result.body) == 1000


@pytest.mark.parametrize("status", [204, 304])
def test_a_large_content_length_without_a_body_is_not_a_body(status: int) -> None:
    reader = ResponseReader()
    reader.start(max_body=10)
    result = reader.feed(f"HTTP/1.1 {status} X\r\nContent-Length: 99999999\r\n\r\n".encode())
    assert result is not None and result.body == b""
    reader.start(head=True, max_body=10)
    result = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")
    assert result is not None and result.status == 200


def test_an_endless_chunked_body_fails_in_the_read_that_passes_the_bound() -> None:
    reader = ResponseReader()
    reader.start(max_body=1 << 20)
    assert reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") is None
    chunk = b"1000\r\n" + b"z" * 4096 + b"\r\n"
    fed = 0
    with pytest.raises(ResponseTooLarge, match="max_body_size"):
        for _ in range(10_000):  # bounded: the bound is 256 chunks away
            fed += 4096
            reader.feed(chunk)
    assert fed == (1 << 20) + 4096  # the first read past the bound, not later


def test_a_close_delimited_body_over_the_bound_fails_before_the_close() -> None:
    reader = ResponseReader()
    reader.start(max_body=100)
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 60) is None
    with pytest.raises(ResponseTooLarge):
        reader.feed(b"a" * 60)


def test_an_endless_trailer_is_cut_off() -> None:
    reader = ResponseReader(max_header_bytes=1024)
    reader.start()
    reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n")
    reader.feed(b"0\r\nX-Trailer: ")
    with pytest.raises(RemoteProtocolError, match="chunk framing or trailers"):
        for _ in range(100):  # bounded: the cut comes after 1024 bytes
            reader.feed(b"t" * 100)


@pytest.mark.parametrize("data", [SIMPLE, CHUNKED], ids=["content-length", "chunked"])
def test_stream_mode_returns_the_head_then_appends_the_body(data: bytes) -> None:
    expected_body = b"hello" if data is SIMPLE else b"hello world"
    for chunks in splits(data):
        reader = ResponseReader()
        pieces: deque[bytes] = deque()
        reader.start_stream(False, pieces)
        heads = [reader.feed(chunk) for chunk in chunks]
        returned = [head for head in heads if head is not None]
        assert len(returned) == 1
        assert (returned[0].status, returned[0].body) == (200, b"")
        assert b"".join(pieces) == expected_body
        assert reader.complete and reader.keep_alive


def test_stream_mode_has_no_body_bound_and_sees_junk() -> None:
    reader = ResponseReader()
    pieces: deque[bytes] = deque()
    reader.start_stream(False, pieces)
    head = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\nabc")
    assert head is not None and b"".join(pieces) == b"abc" and not reader.complete
    reader = ResponseReader()
    reader.start_stream(False, deque())
    assert reader.feed(SIMPLE + b"junk") is not None
    assert reader.complete and not reader.keep_alive


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


@pytest.mark.parametrize(
    "junk",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 404 Other\r\nContent-Length: 3\r\nX-Late: 1\r\n\r\nabc",
        b"HTTP/1.1 2",  # the start of a second response, cut short
        b"H",
        b"stray bytes nobody asked for\r\n",
        b"\x00\xff",
    ],
    ids=["empty-response", "full-response", "partial-status", "one-byte", "text", "binary"],
)
def test_bytes_after_a_complete_response_keep_it_and_forbid_reuse(junk: bytes) -> None:
    # In the same read, or in the read that completes a response begun earlier: the
    # response is returned as it was, untouched by the junk, and marked not reusable.
    for chunks in ([SIMPLE + junk], [SIMPLE[:20], SIMPLE[20:] + junk]):
        reader = ResponseReader()
        reader.start()
        result = feed_all(reader, chunks)
        assert result is not None
        assert (result.status, result.reason, result.body) == (200, b"OK", b"hello")
        assert result.headers == [(b"Content-Type", b"text/plain"), (b"Content-Length", b"5")]
        assert result.keep_alive is False
        assert reader.trailing_garbage


def test_bare_line_ends_after_a_response_are_harmless() -> None:
    # llhttp skips empty lines between messages, as RFC 9112 §2.2 allows a recipient to.
    reader = ResponseReader()
    reader.start()
    result = reader.feed(SIMPLE + b"\r\n")
    assert result is not None and result.keep_alive is True
    reader.start()
    assert reader.feed(SIMPLE) is not None


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
