"""`--local-ips`: parsing, the rotation, real connections from each address, clear errors,
and the warning when one address would run out of cheap ports."""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Iterator
from pathlib import Path

import pytest
from _loopback import Recorder, run_blocking, threaded_server

from loadhopper.http import (
    HttpSession,
    SourceAddresses,
    connect_port_range,
    parse_local_ips,
    port_budget_warning,
)


class _PeerEcho(socketserver.BaseRequestHandler):
    """Answers each request with the client's address as the body, then closes (so that
    every request makes a new connection)."""

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        peer = self.client_address[0].encode()
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (len(peer), peer)
        )


@pytest.fixture(scope="module")
def peer_echo() -> Iterator[str]:
    with threaded_server(_PeerEcho) as url:
        yield url


# --- parsing -------------------------------------------------------------------------------


def test_addresses_ranges_and_networks_are_expanded_in_order() -> None:
    source = parse_local_ips("127.0.0.1-127.0.0.3, 10.1.0.0/30,127.0.0.2,::1")
    assert source.count(socket.AF_INET) == 5  # 127.0.0.2 only once
    assert source.count(socket.AF_INET6) == 1
    taken = [source.take(socket.AF_INET) for _ in range(6)]
    assert taken == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "10.1.0.1", "10.1.0.2", "127.0.0.1"]
    assert source.take(socket.AF_INET6) == "::1"


def test_an_ipv6_range_stays_ipv6() -> None:
    source = parse_local_ips("::1-::3")
    assert source.count(socket.AF_INET) == 0
    assert [source.take(socket.AF_INET6) for _ in range(3)] == ["::1", "::2", "::3"]


def test_a_family_without_addresses_takes_none() -> None:
    assert SourceAddresses(["127.0.0.1"]).take(socket.AF_INET6) is None


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("nonsense", "'nonsense' in --local-ips is not an IP address"),
        ("127.0.0.9-127.0.0.1", "ends before it starts"),
        ("127.0.0.1-::1", "is not an IP address"),
        ("10.0.0.0/8", "more than 65,536 addresses"),
        ("10.0.0.0-10.2.0.0", "more than 65,536 addresses"),
        (" , ", "names no address"),
    ],
)
def test_bad_specs_are_named(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_local_ips(spec)


# --- connections ---------------------------------------------------------------------------


def test_new_connections_take_the_addresses_in_turn(peer_echo: str, sink: Recorder) -> None:
    source = parse_local_ips("127.0.0.2-127.0.0.4")
    session = HttpSession(peer_echo, request_sink=sink, source_addresses=source)
    peers = run_blocking(lambda: [session.get("/").text for _ in range(6)])
    assert peers == ["127.0.0.2", "127.0.0.3", "127.0.0.4"] * 2
    assert [sample[6] for sample in sink.samples] == [None] * 6


def test_a_host_name_is_resolved_to_the_sources_family(peer_echo: str, sink: Recorder) -> None:
    url = peer_echo.replace("127.0.0.1", "localhost")
    session = HttpSession(url, request_sink=sink, source_addresses=parse_local_ips("127.0.0.5"))
    assert run_blocking(lambda: session.get("/").text) == "127.0.0.5"


def test_without_sources_the_kernel_chooses(peer_echo: str, sink: Recorder) -> None:
    session = HttpSession(peer_echo, request_sink=sink)
    assert run_blocking(lambda: session.get("/").text) == "127.0.0.1"


def test_an_address_of_another_machine_fails_the_request_plainly(
    peer_echo: str, sink: Recorder
) -> None:
    source = parse_local_ips("192.0.2.7")  # TEST-NET-1: never an address of this machine
    session = HttpSession(peer_echo, request_sink=sink, source_addresses=source)
    response = run_blocking(lambda: session.get("/"))
    assert response.status_code == 0
    message = str(response.error)
    assert "cannot send from the source address 192.0.2.7" in message
    assert "--local-ips must name addresses of this machine" in message
    assert sink.samples[-1][6] is response.error  # recorded as a failure


def test_a_family_mismatch_fails_the_request_plainly(peer_echo: str, sink: Recorder) -> None:
    session = HttpSession(peer_echo, request_sink=sink, source_addresses=parse_local_ips("::1"))
    response = run_blocking(lambda: session.get("/"))
    assert response.status_code == 0
    assert "127.0.0.1 has no IPv6 address" in str(response.error)


# --- the port budget -----------------------------------------------------------------------


def test_the_warning_comes_past_half_the_port_range_per_address() -> None:
    ports = (32768, 60999)  # Linux's default: 28,232 ports, 14,116 of them cheap
    assert port_budget_warning(14_116, None, ports) is None
    warning = port_budget_warning(15_000, None, ports)
    assert warning is not None
    assert "15,000 users" in warning and "14,116" in warning and "--local-ips" in warning
    four = parse_local_ips("127.0.0.1-127.0.0.4")
    assert port_budget_warning(15_000, four, ports) is None
    assert port_budget_warning(60_000, four, ports) is not None
    assert port_budget_warning(1_000_000, None, None) is None  # not Linux: nothing known


def test_the_port_range_is_read_from_the_kernels_file(tmp_path: Path) -> None:
    given = tmp_path / "range"
    given.write_text("1024\t65535\n")
    assert connect_port_range(given) == (1024, 65535)
    given.write_text("garbage")
    assert connect_port_range(given) is None
    assert connect_port_range(tmp_path / "missing") is None
