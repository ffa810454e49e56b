"""The hostile server misbehaves as documented: checked with raw sockets, no HTTP client.

A suite that tests a client against a server must first know that the server does what
it claims; otherwise a client could pass by meeting a server that never misbehaved.
"""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import Iterator

import pytest

from hostile.gzip_bomb import _crc32_of_zeros, gzip_bomb
from hostile.hostile_server import HostileServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(seed=1, lifetime=60) as running:
        yield running


def request(target: str, method: str = "GET") -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def exchange(server: HostileServer, data: bytes, limit: int = 1 << 16, wait: float = 5) -> bytes:
    """Send `data`, read until the server closes or resets, `limit` bytes, or `wait` s of
    silence. (A keep-alive reply is ended by sending `GET /close` after it.)
    """
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(data)
        try:
            while len(received) < limit and (chunk := sock.recv(65536)):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


CLOSE = request("/close")


def test_counts_every_head_per_method_and_target(server: HostileServer) -> None:
    before = server.counts()
    reply = exchange(server, request("/ok") + request("/ok?a") + request("/close", "POST"))
    assert reply.count(b"HTTP/1.1 200 OK") == 2  # then /close ends the connection
    after = server.counts()
    for key in [("GET", "/ok"), ("GET", "/ok?a"), ("POST", "/close")]:
        assert after.get(key, 0) - before.get(key, 0) == 1, key


def test_reset_sends_rst(server: HostileServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request("/reset"))
        with pytest.raises(ConnectionResetError):
            sock.recv(1)


def test_short_sends_ten_of_a_hundred_bytes(server: HostileServer) -> None:
    head, _, body = exchange(server, request("/short")).partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head and len(body) == 10


def test_bad_status_is_not_http(server: HostileServer) -> None:
    assert not exchange(server, request("/bad-status"), limit=1).startswith(b"HTTP/")


def test_header_modes_exceed_what_a_client_should_take(server: HostileServer) -> None:
    huge = exchange(server, request("/huge-header") + CLOSE, limit=2 << 20)
    assert max(len(line) for line in huge.split(b"\r\n")) > 1 << 20
    many = exchange(server, request("/many-headers") + CLOSE)
    head = many.partition(b"\r\n\r\n")[0]
    assert head.count(b"\r\nX: y") == 10_000 and len(head) < 64 * 1024


def test_huge_body_and_endless_keep_streaming(server: HostileServer) -> None:
    huge = exchange(server, request("/huge-body"), limit=1 << 21)
    assert b"Content-Length: 2147483648" in huge and len(huge) >= 1 << 21
    endless = exchange(server, request("/endless"), limit=1 << 21)
    assert b"Transfer-Encoding: chunked" in endless and len(endless) >= 1 << 21


def test_redirect_chain_counts_down(server: HostileServer) -> None:
    assert b"Location: /redirect-chain/1\r\n" in exchange(
        server, request("/redirect-chain/2") + CLOSE
    )
    assert b"200 OK" in exchange(server, request("/redirect-chain/0") + CLOSE)


def test_random_is_seeded_and_mixed() -> None:
    def replies() -> list[bytes]:
        # The first bytes of each reply tell the behaviours apart well enough; a short wait
        # ends a stall (b"") and a drip after its first bytes.
        with HostileServer(seed=3, lifetime=30) as fresh:
            return [exchange(fresh, request("/random"), 12, wait=0.3)[:12] for _ in range(8)]

    first = replies()
    assert first == replies()
    assert len(set(first)) > 2


def test_bomb_is_a_valid_gzip_of_zeros() -> None:
    for mib in (1, 2, 3, 7):
        assert _crc32_of_zeros(mib << 20) == zlib.crc32(bytes(mib << 20))
    assert gzip.decompress(gzip_bomb(5 << 20)) == bytes(5 << 20)  # checks CRC and length
    bomb = gzip_bomb(10 << 30)
    assert len(bomb) < 11 << 20  # 10 GiB of zeros in about 10.6 MB
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(bomb[: 1 << 20], 1 << 24) == bytes(1 << 24)  # still expanding
