"""HttpSession's verify=, cert=, proxies= per request and as session attributes, end to end
(real loopback servers, the test proxy of `_forward_proxy.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from _forward_proxy import running_proxy
from _loopback import Recorder, Server, TLSSetup, run_blocking

from loadhopper._exceptions import TLSError
from loadhopper.http import HttpSession
from loadhopper.http._pool import Origin


def test_per_request_verify_uses_its_own_connections(tls_server: TLSSetup, sink: Recorder) -> None:
    server = tls_server.server
    session = HttpSession(server.url, request_sink=sink)  # the system's CAs: no trust
    ca = str(tls_server.ca_path)

    def task() -> list[int]:
        return [
            session.get("/echo").status_code,
            session.get("/echo", verify=ca).status_code,
            session.get("/echo", verify=ca).status_code,
            session.get("/echo", verify=False).status_code,
        ]

    before = server.connections
    assert run_blocking(task) == [0, 200, 200, 200]
    assert server.connections - before == 2
    assert isinstance(sink.samples[0][6], TLSError)


def test_verify_attribute_then_a_missing_bundle_per_request(
    tls_server: TLSSetup, sink: Recorder
) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink)
    session.verify = str(tls_server.ca_path)
    response = run_blocking(lambda: session.get("/echo", verify="/no/such/ca.pem"))
    assert response.status_code == 0 and "pass the path of a PEM file" in str(response.error)
    assert run_blocking(lambda: session.get("/echo")).status_code == 200


def test_per_request_proxies_and_redirects_through_them(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    with running_proxy() as proxy:

        def task() -> list[str]:
            via = {"http": proxy.url}
            return [
                session.get("/redirect/302?to=/echo", proxies=via).json()["target"],
                session.get("/echo").json()["target"],
            ]

        assert run_blocking(task) == ["/echo", "/echo"]
    base = f"http://127.0.0.1:{server.port}"
    assert [t for _, t, _ in proxy.forwarded] == [f"{base}/redirect/302?to=/echo", f"{base}/echo"]


def test_session_proxies_tunnel_https(tls_server: TLSSetup, sink: Recorder) -> None:
    session = HttpSession(tls_server.server.url, request_sink=sink, verify=str(tls_server.ca_path))
    with running_proxy() as proxy:
        session.proxies = {"https": proxy.url}
        assert run_blocking(lambda: [session.get("/echo").status_code for _ in range(2)]) == [
            200,
            200,
        ]
        session.proxies["https"] = None  # `self.client.proxies[...]`: in place, at once
        assert run_blocking(lambda: session.get("/echo").status_code) == 200
    assert len(proxy.tunnels) == 1


def test_a_streamed_body_returns_its_connection_under_its_route(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    origin = Origin("http", "127.0.0.1", server.port)
    with running_proxy() as proxy:
        route = session._pool.route(proxies={"http": proxy.url})

        def task() -> bytes:
            response = session.get("/lines?n=10", stream=True, proxies={"http": proxy.url})
            return response.content

        assert run_blocking(task).startswith(b"line 0")
    assert session._pool.idle_count(origin, route) == 1
    assert session._pool.idle_count(origin) == 0


def test_session_cert_attribute(tmp_path: Path, sink: Recorder) -> None:
    import ssl

    from _loopback import _ServerThread

    server_ca, client_ca = trustme.CA(), trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    client_ca.configure_trust(context)
    ca, combined = tmp_path / "ca.pem", tmp_path / "client.pem"
    server_ca.cert_pem.write_to_path(str(ca))
    client_ca.issue_cert("u@example.test").private_key_and_cert_chain_pem.write_to_path(
        str(combined)
    )
    thread = _ServerThread(tls=context)
    server = thread.start()
    try:
        session = HttpSession(server.url, request_sink=sink, verify=str(ca))
        assert run_blocking(lambda: session.get("/echo")).status_code == 0
        session.cert = str(combined)
        assert run_blocking(lambda: session.get("/echo")).status_code == 200
        other = HttpSession(server.url, request_sink=sink, verify=str(ca))
        assert run_blocking(lambda: other.get("/echo", cert=str(combined))).status_code == 200
    finally:
        thread.stop()


def test_bad_proxies_raise_to_the_caller(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    with pytest.raises(ValueError, match="SOCKS proxies are not supported"):
        run_blocking(lambda: session.get("/echo", proxies={"http": "socks5://127.0.0.1:1"}))
    assert sink.samples == []
