"""Source addresses: which local IP each new connection comes from (`--local-ips`).

Why: a connection is a 4-tuple, and every connection from one source address to one
destination (`host:port`) needs its own local port. Linux hands `connect()` ports from
`net.ipv4.ip_local_port_range` (28,232 by default), and it picks them cheaply only while the
ones of its preferred parity (half the range) last: past that, each connect scans the ports
in use, one hash lookup each, before it finds a free one. With 15,000 users against one
target that scan took a third of the generator's CPU at the end of the ramp, and every
response read meanwhile came late (benchmarks/README.md, case 2). Spreading the connections
over several source addresses gives each address its own port space, as k6's `--local-ips`
and Gatling's `localAddresses` do; on loopback, every address in 127.0.0.0/8 is local.

Each connection is bound to its address with port 0 (uvloop's `local_addr`): the kernel then
picks a port free for that address, and ports held by the other addresses do not count.
Doing the connect in Python instead (a socket bound with `IP_BIND_ADDRESS_NO_PORT`, then
`sock_connect`) cost four times uvloop's 40-50 us per connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from pathlib import Path

from loadhopper._exceptions import ConnectError

__all__ = [
    "MAX_SOURCE_ADDRESSES",
    "SourceAddresses",
    "connect_port_range",
    "parse_local_ips",
    "port_budget_warning",
    "route_from",
]

# A bound on one `--local-ips` value: a mistyped range (127.0.0.1-127.255.255.255) would
# otherwise build a list of millions of addresses.
MAX_SOURCE_ADDRESSES = 65_536

_PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class SourceAddresses:
    """The local addresses new connections are bound to, taken in turn, per address family.

    One object serves a whole process: every user's connections share the rotation, so that
    they spread evenly over the addresses.
    """

    __slots__ = ("_by_family", "_checked", "_next", "spec")

    def __init__(self, addresses: Sequence[str], spec: str = "") -> None:
        if not addresses:
            raise ValueError("no source addresses")
        self.spec = spec or ",".join(addresses)
        self._by_family: dict[int, list[str]] = {}
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            self._by_family.setdefault(family, []).append(address)
        self._next = dict.fromkeys(self._by_family, 0)
        self._checked: set[str] = set()

    @property
    def families(self) -> frozenset[int]:
        """The address families (socket.AF_INET, AF_INET6) there are addresses for."""
        return frozenset(self._by_family)

    def count(self, family: int) -> int:
        """How many addresses of `family` there are."""
        return len(self._by_family.get(family, ()))

    def take(self, family: int) -> str | None:
        """The next source address of `family`, or None when there is none of it."""
        listed = self._by_family.get(family)
        if not listed:
            return None
        index = self._next[family]
        self._next[family] = (index + 1) % len(listed)
        return listed[index]

    def check(self, address: str, family: int) -> None:
        """Check once that `address` is one of this machine's, by binding a socket to it.

        A connect that fails with "cannot assign requested address" then means no free
        local port, not a foreign address: the two get different messages.

        Raises:
            ConnectError: the address cannot be bound.
        """
        if address in self._checked:
            return
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, 0))
            except OSError as exc:
                raise ConnectError(
                    f"cannot send from the source address {address} ({exc.strerror}); "
                    "--local-ips must name addresses of this machine"
                ) from exc
        self._checked.add(address)

    def __repr__(self) -> str:
        return f"SourceAddresses({self.spec!r})"


def parse_local_ips(spec: str) -> SourceAddresses:
    """`--local-ips`: addresses, ranges (`a-b`) and networks (`a/len`), comma-separated.

    Raises:
        ValueError: with a sentence that names the bad part.
    """
    addresses: list[str] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        addresses.extend(str(address) for address in _expand(part))
        if len(addresses) > MAX_SOURCE_ADDRESSES:
            raise ValueError(
                f"--local-ips names more than {MAX_SOURCE_ADDRESSES:,} addresses; "
                "a few per 14,000 connections are enough"
            )
    if not addresses:
        raise ValueError("--local-ips names no address; give one or more, e.g. 127.0.0.1-127.0.0.4")
    return SourceAddresses(list(dict.fromkeys(addresses)), spec)


def _expand(part: str) -> list[_Address]:
    """The addresses one comma-separated part names: an address, a range or a network."""
    if "/" in part:
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ValueError(_not_an_address(part)) from None
        if network.num_addresses > MAX_SOURCE_ADDRESSES:
            raise ValueError(_too_many(part))
        hosts: list[_Address] = list(network.hosts())
        return hosts or [network.network_address]
    if "-" in part:
        first_text, _, last_text = part.partition("-")
        first, last = _address(first_text, part), _address(last_text, part)
        if first.version != last.version:
            raise ValueError(_not_an_address(part))
        count = int(last) - int(first) + 1
        if count < 1:
            raise ValueError(f"the range {part!r} in --local-ips ends before it starts")
        if count > MAX_SOURCE_ADDRESSES:
            raise ValueError(_too_many(part))
        return [first + offset for offset in range(count)]  # the family is kept
    return [_address(part, part)]


def _address(text: str, part: str) -> _Address:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise ValueError(_not_an_address(part)) from None


def _not_an_address(part: str) -> str:
    return (
        f"{part!r} in --local-ips is not an IP address, a range (127.0.0.1-127.0.0.4) "
        "or a network (127.0.0.0/30)"
    )


def _too_many(part: str) -> str:
    return f"{part!r} in --local-ips names more than {MAX_SOURCE_ADDRESSES:,} addresses"


async def route_from(source: SourceAddresses, host: str, port: int) -> tuple[str, str]:
    """(the address to connect to, the local address to bind) for a connection to `host`.

    A name is resolved here, and its first address of a family `source` has addresses for
    is taken, so that the two sides always match; an IP literal needs no resolver call.

    Raises:
        socket.gaierror: `host` does not resolve.
        ConnectError: `host` has no address of a family `source` has addresses for, or the
            local address is not this machine's.
    """
    literal = _literal(host)
    if literal is not None:
        candidates = [literal]
    else:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        candidates = [(family, str(address[0])) for family, _, _, _, address in infos]
    for family, address in candidates:
        local = source.take(family)
        if local is not None:
            source.check(local, family)
            return address, local
    kinds = " and ".join(sorted(_family_name(f) for f in source.families))
    raise ConnectError(
        f"{host} has no {kinds} address, and --local-ips ({source.spec}) gives only "
        f"{kinds} source addresses; add a source address of {host}'s kind"
    )


def _literal(host: str) -> tuple[int, str] | None:
    """(family, address) of an IP literal; None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return (socket.AF_INET6 if address.version == 6 else socket.AF_INET, str(address))


def _family_name(family: int) -> str:
    return "IPv6" if family == socket.AF_INET6 else "IPv4"


def connect_port_range(path: Path = _PORT_RANGE_FILE) -> tuple[int, int] | None:
    """This machine's range of local ports for `connect()`, or None where it is unknown."""
    try:
        low, high = (int(field) for field in path.read_text().split())
    except (OSError, ValueError):
        return None
    return (low, high) if low <= high else None


def port_budget_warning(
    users: int, source: SourceAddresses | None, port_range: tuple[int, int] | None
) -> str | None:
    """A warning when `users` connections from one address would outrun cheap connects.

    Each HTTP user holds at least one connection to its host; past half the port range,
    Linux's `connect()` scans the ports in use (see the module docstring).
    """
    if port_range is None:
        return None
    addresses = 1
    if source is not None:
        addresses = max(1, min(source.count(family) for family in source.families))
    low, high = port_range
    cheap = (high - low + 1) // 2 * addresses
    if users <= cheap:
        return None
    return (
        f"{users:,} users open at least {users:,} connections, and from "
        f"{'one source address' if addresses == 1 else f'{addresses} source addresses'} "
        f"this machine's connect() finds a free local port cheaply for only about {cheap:,} "
        f"(net.ipv4.ip_local_port_range {low}-{high}): past that each new connection costs "
        "the generator CPU and the latencies measured then rise. Spread the connections with "
        "--local-ips (on loopback, e.g. --local-ips 127.0.0.1-127.0.0.4), or widen the range."
    )
