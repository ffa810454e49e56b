"""HTTP proxies: absolute-form forwarding, CONNECT tunnels, Basic proxy credentials, refused
tunnels, and proxied connections pooled apart from direct ones (a real proxy on loopback,
`_forward_proxy.py`, that records what it forwards)."""

from __future__ import annotations

import base64

import pytest
from _forward_proxy import running_proxy
from _loopback import Server, TLSSetup, free_port
from _pool_exchange import echoed, get, origin_of, run

from loadhopper._exceptions import ConnectError, RemoteProtocolError
from loadhopper.http._pool import ConnectionPool
from loadhopper.http._proxy import Proxy, parse_proxies, parse_proxy
from loadhopper.http._source import parse_local_ips
from loadhopper.http._tunnel import parse_reply

LOOPS = ["uvloop", "asyncio"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("loop", LOOPS)
def test_http_requests_go_to_the_proxy_in_absolute_form(server: Server, loop: str) -> None:
    origin = origin_of(server.url)
    with running_proxy() as proxy:
        pool = ConnectionPool(proxies={"http": proxy.url})

        async def requests() -> list[str]:
            return [echoed(await get(pool, origin, p))["target"] for p in ("/echo", "/echo?a=1")]

        assert run(requests, loop) == ["/echo", "/echo?a=1"]  # the origin sees origin form
    assert proxy.forwarded == [
        ("GET", f"http://127.0.0.1:{server.port}/echo", None),
        ("GET", f"http://127.0.0.1:{server.port}/echo?a=1", None),
    ]
    assert proxy.connections == 1  # kept alive and reused


def test_basic_credentials_go_to_the_proxy_and_not_to_the_origin(server: Server) -> None:
    origin = origin_of(server.url)
    expected = _basic("user", "p@ss word")
    with running_proxy(required_auth=expected) as proxy:
        pool = ConnectionPool(proxies={"http": proxy.url_with("user:p%40ss%20word")})
        raw = run(lambda: get(pool, origin, "/echo"))
        refused = run(lambda: get(pool, origin, "/echo", pool.route(proxies={"http": proxy.url})))
    assert raw.status == 200
    assert proxy.forwarded == [("GET", f"http://127.0.0.1:{server.port}/echo", expected)]
    headers = [name.lower() for name, _ in echoed(raw)["headers"]]
    assert "proxy-authorization" not in headers
    assert refused.status == 407  # without credentials: the proxy's answer is the response


@pytest.mark.parametrize("loop", LOOPS)
def test_https_goes_through_a_connect_tunnel(tls_server: TLSSetup, loop: str) -> None:
    origin = origin_of(tls_server.server.url)
    with running_proxy() as proxy:
        pool = ConnectionPool(str(tls_server.ca_path), proxies={"https": proxy.url})

        async def requests() -> list[int]:
            return [(await get(pool, origin, "/echo")).status for _ in range(3)]

        assert run(requests, loop) == [200, 200, 200]
    # One tunnel, reused; TLS inside it (the proxy never saw a request line).
    assert proxy.tunnels == [(f"127.0.0.1:{tls_server.server.port}", None)]
    assert proxy.forwarded == []


def test_local_ips_apply_to_the_connection_to_the_proxy(
    server: Server, tls_server: TLSSetup
) -> None:
    source = parse_local_ips("127.0.0.2-127.0.0.3")
    with running_proxy() as proxy:
        pool = ConnectionPool(
            str(tls_server.ca_path),
            proxies={"http": proxy.url, "https": proxy.url},
            source=source,
        )
        forwarded = run(lambda: get(pool, origin_of(server.url), "/echo"))
        tunnelled = run(lambda: get(pool, origin_of(tls_server.server.url), "/echo"))
    assert (forwarded.status, tunnelled.status) == (200, 200)
    assert proxy.peers == ["127.0.0.2", "127.0.0.3"]  # forwarded, then the CONNECT tunnel


def test_the_tunnel_carries_basic_credentials_and_the_certificate_is_the_origins(
    tls_server: TLSSetup,
) -> None:
    origin = origin_of(tls_server.server.url)
    expected = _basic("tunnel", "secret")
    with running_proxy(required_auth=expected) as proxy:
        url = proxy.url_with("tunnel:secret")
        pool = ConnectionPool(proxies={"https": url})  # the system's CAs: no trust
        with pytest.raises(ConnectError, match=f"certificate of 127.0.0.1:{origin.port}"):
            run(lambda: get(pool, origin, "/echo"))
        raw = run(lambda: get(pool, origin, "/echo", pool.route(verify=str(tls_server.ca_path))))
    assert raw.status == 200
    assert [auth for _, auth in proxy.tunnels] == [expected, expected]


def test_a_refused_connect_fails_naming_the_proxy_and_its_status(tls_server: TLSSetup) -> None:
    origin = origin_of(tls_server.server.url)
    with running_proxy(refuse_connect=403) as proxy:
        pool = ConnectionPool(str(tls_server.ca_path), proxies={"https": proxy.url})
        with pytest.raises(ConnectError) as refused:
            run(lambda: get(pool, origin, "/echo"))
    assert str(refused.value) == (
        f"the proxy 127.0.0.1:{proxy.port} refused the tunnel to 127.0.0.1:{origin.port} with "
        "403 Refused; check that the proxy allows tunnels to this host and port"
    )
    assert proxy.tunnels == []


def test_a_tunnel_without_credentials_says_to_check_them(tls_server: TLSSetup) -> None:
    origin = origin_of(tls_server.server.url)
    with running_proxy(required_auth=_basic("a", "b")) as proxy:
        pool = ConnectionPool(str(tls_server.ca_path), proxies={"https": proxy.url})
        with pytest.raises(ConnectError, match="with 407 Proxy Authentication Required; check"):
            run(lambda: get(pool, origin, "/echo"))


def test_proxied_connections_are_pooled_apart_from_direct_ones(server: Server) -> None:
    origin = origin_of(server.url)
    with running_proxy() as proxy:
        pool = ConnectionPool()
        proxied = pool.route(proxies={"http": proxy.url})
        assert proxied is not None

        async def requests() -> None:
            for route in (None, proxied, None, proxied):
                await get(pool, origin, "/echo", route)

        before = server.connections
        run(requests)
    assert server.connections - before == 2  # one direct, one from the proxy
    assert proxy.connections == 1 and len(proxy.forwarded) == 2
    assert pool.idle_count(origin) == 1 and pool.idle_count(origin, proxied) == 1


def test_a_request_can_turn_the_sessions_proxy_off(server: Server) -> None:
    origin = origin_of(server.url)
    with running_proxy() as proxy:
        pool = ConnectionPool(proxies={"http": proxy.url})
        direct = pool.route(proxies={"http": None})  # requests: None removes the session's
        assert direct is not None and direct.proxies is None
        run(lambda: get(pool, origin, "/echo", direct))
        assert pool.route(proxies={"http": proxy.url}) is None  # restating it: the default
    assert proxy.forwarded == []


def test_session_proxies_changed_in_place_reach_the_pool(server: Server) -> None:
    origin = origin_of(server.url)
    with running_proxy() as proxy:
        pool = ConnectionPool()
        pool.proxies["http"] = proxy.url  # `self.client.proxies["http"] = ...`
        run(lambda: get(pool, origin, "/echo"))
        with pytest.raises(ValueError, match="SOCKS proxies are not supported"):
            pool.proxies.update({"https": "socks5://127.0.0.1:1080"})
        assert pool.proxies == {"http": proxy.url}  # a refused change leaves it as it was
        kept = pool.proxies
        pool.proxies = {}
        kept["http"] = proxy.url  # the replaced dict no longer steers the pool
        run(lambda: get(pool, origin, "/echo"))
    assert len(proxy.forwarded) == 1


def test_an_unreachable_proxy_is_named_in_the_error(server: Server) -> None:
    port = free_port()
    pool = ConnectionPool(proxies={"http": f"127.0.0.1:{port}"})  # no scheme: http://
    with pytest.raises(ConnectError, match=f"cannot connect to the proxy 127.0.0.1:{port} "):
        run(lambda: get(pool, origin_of(server.url), "/echo"))


def test_proxies_are_selected_by_requests_keys() -> None:
    proxies = parse_proxies(
        {
            "http://special.test": "http://10.0.0.1:1",
            "http": "http://10.0.0.2:2",
            "all://other.test": "http://10.0.0.3:3",
            "all": "http://10.0.0.4:4",
            "https": None,  # as requests drops it: https falls through to "all"
            "no_proxy": "localhost",  # requests applies it to environment proxies only
        }
    )
    assert proxies is not None
    assert proxies.select("http", "special.test") == Proxy("10.0.0.1", 1)
    assert proxies.select("http", "localhost") == Proxy("10.0.0.2", 2)
    assert proxies.select("https", "other.test") == Proxy("10.0.0.3", 3)
    assert proxies.select("https", "localhost") == Proxy("10.0.0.4", 4)
    assert parse_proxies({"https": None}) is None
    assert parse_proxies({"HTTP": "10.0.0.2:2"}) is parse_proxies({"http": "10.0.0.2:2"})  # cached
    assert parse_proxies({"http": "10.0.0.2:2"}) != parse_proxies({"http": "10.0.0.2:3"})


def test_unsupported_proxies_are_refused_in_one_line() -> None:
    for url, message in [
        ("socks5h://127.0.0.1:1080", "SOCKS proxies are not supported"),
        ("https://u:secret@127.0.0.1:3128", "must start with http://"),
        ("http://127.0.0.1:notaport", "has a bad port"),
        ("http://", "has no host"),
    ]:
        with pytest.raises(ValueError, match=message) as caught:
            parse_proxy(url)
        assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
    assert parse_proxy("proxy.test").port == 80
    assert parse_proxy("http://[::1]:3128").address == "[::1]:3128"
    assert "secret" not in repr(parse_proxy("http://u:secret@proxy.test:1"))


def test_the_connect_reply_is_parsed_without_sockets() -> None:
    assert parse_reply(b"HTTP/1.1 200 Connection established") == (200, "Connection established")
    assert parse_reply(b"HTTP/1.0 407 Proxy Authentication Required\r\nX: y") == (
        407,
        "Proxy Authentication Required",
    )
    assert parse_reply(b"HTTP/1.1 200") == (200, "")
    for junk in (b"SSH-2.0-OpenSSH", b"HTTP/1.1 2000 OK", b""):
        with pytest.raises(RemoteProtocolError):
            parse_reply(junk)
