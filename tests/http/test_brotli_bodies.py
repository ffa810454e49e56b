"""Content-Encoding: br against a loopback server: decoded within the same bounds as gzip,
whole or streamed, and advertised only because the brotli package is installed here."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import brotli
import pytest
from _loopback import Recorder, run_blocking, text_body, threaded_server

from loadhopper._exceptions import RemoteProtocolError, ResponseTooLarge
from loadhopper.http import BodyLimits, HttpSession, _brotli
from loadhopper.http._decode import INLINE_DECODED, decode_body, stream_decoder

PAGE = text_body(3 * INLINE_DECODED)  # past the inline step: the rest decodes in a thread


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/accept":
            body, coded = self.headers.get("Accept-Encoding", "").encode(), False
        elif parts.path == "/br":
            body, coded = brotli.compress(text_body(int(query["n"][0]))), True
        elif parts.path == "/br-bomb":  # 16 MiB of zeros in a few hundred bytes
            body, coded = brotli.compress(bytes(16 << 20), quality=5), True
        elif parts.path == "/br-bad":
            body, coded = b"this is not brotli", True
        elif parts.path == "/br-truncated":
            body, coded = brotli.compress(PAGE)[:-20], True
        else:
            self.send_error(404)
            return
        self.send_response(200)
        if coded:
            self.send_header("Content-Encoding", "br")
        if "chunked" in query:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture(scope="module")
def br_url() -> Iterator[str]:
    with threaded_server(_Handler, http.server.ThreadingHTTPServer) as url:
        yield url


def test_br_is_advertised_when_brotli_is_installed(br_url: str, sink: Recorder) -> None:
    assert _brotli.AVAILABLE  # brotli comes with Locust in this environment
    session = HttpSession(br_url, request_sink=sink)
    assert run_blocking(lambda: session.get("/accept")).text == "gzip, deflate, br"


@pytest.mark.parametrize("size", [10, 50_000, len(PAGE)], ids=["tiny", "page", "big"])
def test_br_bodies_are_decoded(br_url: str, sink: Recorder, size: int) -> None:
    session = HttpSession(br_url, request_sink=sink)
    response = run_blocking(lambda: session.get(f"/br?n={size}"))
    assert response.content == text_body(size)
    assert sink.last["exception"] is None
    assert sink.last["response_length"] == size


def test_a_br_bomb_fails_at_the_decoded_bound(br_url: str, sink: Recorder) -> None:
    limits = BodyLimits(max_decoded_size=1 << 20)
    session = HttpSession(br_url, request_sink=sink, body_limits=limits)
    response = run_blocking(lambda: session.get("/br-bomb"))
    assert response.status_code == 0
    assert isinstance(response.error, ResponseTooLarge)
    assert "decodes to more than 1048576 bytes" in str(response.error)
    whole = HttpSession(br_url, request_sink=sink)  # within the default 64 MiB: decoded
    assert run_blocking(lambda: whole.get("/br-bomb")).content == bytes(16 << 20)


@pytest.mark.parametrize("path", ["/br-bad", "/br-truncated"])
def test_invalid_or_truncated_br_is_a_failure(br_url: str, sink: Recorder, path: str) -> None:
    session = HttpSession(br_url, request_sink=sink)
    response = run_blocking(lambda: session.get(path))
    assert isinstance(response.error, RemoteProtocolError)
    assert "not valid br data" in str(response.error)
    assert isinstance(sink.last["exception"], RemoteProtocolError)


def test_a_streamed_br_body_is_decoded_in_bounded_pieces(br_url: str, sink: Recorder) -> None:
    session = HttpSession(br_url, request_sink=sink)

    def task() -> list[bytes]:
        response = session.get(f"/br?n={len(PAGE)}&chunked=1", stream=True)
        return list(response.iter_content(16 * 1024))

    pieces = run_blocking(task)
    assert b"".join(pieces) == PAGE
    assert max(len(piece) for piece in pieces) <= 16 * 1024


def test_a_streamed_truncated_br_body_fails_when_read(br_url: str, sink: Recorder) -> None:
    session = HttpSession(br_url, request_sink=sink)

    def task() -> None:
        response = session.get("/br-truncated?chunked=1", stream=True)
        response.content  # noqa: B018 (reading is the point)

    with pytest.raises(RemoteProtocolError, match="not valid br data"):
        run_blocking(task)


def test_the_stream_decoder_never_gives_more_than_asked() -> None:
    # The library's cap is a floor: a step may give about twice it; the rest is kept.
    decoder = stream_decoder(b"br")
    assert decoder is not None
    coded = brotli.compress(bytes(1 << 20))
    out = [decoder.decode(coded, 1000)]
    while decoder.pending:
        out.append(decoder.decode(b"", 1000))
    decoder.finish()
    assert b"".join(out) == bytes(1 << 20)
    assert max(len(piece) for piece in out) == 1000


def test_whole_bodies_decode_the_same_on_and_off_the_loop() -> None:
    coded = brotli.compress(PAGE)
    result = decode_body(coded, b"br", 64 << 20)
    assert not isinstance(result, bytes)  # more than the inline step: finished in a thread
    assert result.decode_rest() == PAGE
    assert decode_body(brotli.compress(b"small"), b"br", 64 << 20) == b"small"
