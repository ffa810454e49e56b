"""TLS settings as a value: verification, client certificates, contexts built once, and
connections made with different settings never reused for one another (real loopback TLS
servers, certificates made for the test run with trustme)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from _loopback import Server, TLSSetup, _ServerThread
from _pool_exchange import echoed, get, origin_of, run

from loadhopper._exceptions import RequestError, TLSError
from loadhopper.http._pool import ConnectionPool, Route
from loadhopper.http._tls import DEFAULT_TLS, TLSSettings, tls_context, tls_settings


@dataclass(frozen=True)
class ClientCertSetup:
    server: Server  # requires a client certificate issued by the client CA
    ca_path: Path  # trusts the server
    combined: Path  # the client certificate and its key in one PEM
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClientCertSetup]:
    server_ca, client_ca = trustme.CA(), trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(context)
    context.verify_mode = ssl.CERT_REQUIRED
    client_ca.configure_trust(context)
    folder = tmp_path_factory.mktemp("mtls")
    client = client_ca.issue_cert("user@example.test")
    paths = {name: folder / f"{name}.pem" for name in ("ca", "combined", "cert", "key")}
    server_ca.cert_pem.write_to_path(str(paths["ca"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(paths["combined"]))
    client.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    client.private_key_pem.write_to_path(str(paths["key"]))
    thread = _ServerThread(tls=context)
    server = thread.start()
    yield ClientCertSetup(server, paths["ca"], paths["combined"], paths["cert"], paths["key"])
    thread.stop()


@pytest.fixture(scope="module")
def untrusted_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA bundle that did not sign the test server's certificate."""
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_verification_fails_against_an_untrusted_ca_and_passes_with_verify_ca_path(
    tls_server: TLSSetup, untrusted_ca: Path
) -> None:
    origin = origin_of(tls_server.server.url)
    pool = ConnectionPool()  # the system's CAs: they do not know the test CA
    with pytest.raises(TLSError, match="did not verify") as system:
        run(lambda: get(pool, origin, "/echo"))
    route = pool.route(verify=str(untrusted_ca))
    with pytest.raises(TLSError, match="did not verify"):
        run(lambda: get(pool, origin, "/echo", route))
    raw = run(lambda: get(pool, origin, "/echo", pool.route(verify=str(tls_server.ca_path))))
    assert raw.status == 200
    assert "verify=False" in str(system.value)  # the message says what to do


def test_verify_false_connections_are_not_shared_with_verified_ones(
    tls_server: TLSSetup,
) -> None:
    server = tls_server.server
    origin = origin_of(server.url)
    pool = ConnectionPool(str(tls_server.ca_path))
    unverified = pool.route(verify=False)
    assert unverified is not None

    async def requests() -> list[int]:
        before = server.connections
        seen = []
        for route in (None, unverified, None, unverified, None):
            await get(pool, origin, "/echo", route)
            seen.append(server.connections - before)
        return seen

    # One connection per setting, each reused by its own setting only.
    assert run(requests) == [1, 2, 2, 2, 2]
    assert pool.idle_count(origin) == 1
    assert pool.idle_count(origin, unverified) == 1


def test_restating_the_default_settings_is_the_default_route(tls_server: TLSSetup) -> None:
    ca = str(tls_server.ca_path)
    pool = ConnectionPool(ca)
    assert pool.route() is None
    assert pool.route(verify=ca) is None  # shares the session's connections
    assert pool.route(verify=Path(ca)) is None
    assert pool.route(verify=True) == Route(TLSSettings(True), None)
    assert ConnectionPool().route(verify=True) is None


def test_a_context_is_built_once_per_distinct_setting(tls_server: TLSSetup) -> None:
    ca = str(tls_server.ca_path)
    assert tls_context(tls_settings(ca)) is tls_context(TLSSettings(ca))
    assert tls_context(tls_settings(ca)) is not tls_context(tls_settings(False))
    assert tls_settings() is DEFAULT_TLS
    assert tls_context(TLSSettings(False)).verify_mode == ssl.CERT_NONE


def test_a_server_that_requires_a_client_certificate(mtls_server: ClientCertSetup) -> None:
    origin = origin_of(mtls_server.server.url)
    pool = ConnectionPool(str(mtls_server.ca_path))
    # Without a certificate the server refuses (in TLS 1.3 it does so after the client's
    # side of the handshake has finished, so the failure shows at the first read).
    served = len(mtls_server.server.requests)
    with pytest.raises(RequestError):
        run(lambda: get(pool, origin, "/echo"))
    assert len(mtls_server.server.requests) == served
    combined = pool.route(cert=str(mtls_server.combined))
    pair = pool.route(cert=(str(mtls_server.cert), str(mtls_server.key)))
    assert combined is not None and pair is not None and combined != pair

    async def requests() -> list[int]:
        statuses = []
        for route in (combined, pair, combined):
            statuses.append((await get(pool, origin, "/echo", route)).status)
        return statuses

    before = mtls_server.server.connections
    assert run(requests) == [200, 200, 200]
    assert mtls_server.server.connections - before == 2  # one per certificate setting


def test_the_session_default_client_certificate(mtls_server: ClientCertSetup) -> None:
    origin = origin_of(mtls_server.server.url)
    pool = ConnectionPool(str(mtls_server.ca_path), cert=str(mtls_server.combined))
    assert pool.cert == str(mtls_server.combined)
    raw = run(lambda: get(pool, origin, "/echo"))
    assert echoed(raw)["target"] == "/echo"
    pool.cert = (str(mtls_server.cert), str(mtls_server.key))
    assert pool.cert == (str(mtls_server.cert), str(mtls_server.key))
    assert pool.verify == str(mtls_server.ca_path)  # changing one setting keeps the other


def test_changing_the_default_closes_connections_made_with_the_old_one(
    tls_server: TLSSetup,
) -> None:
    server = tls_server.server
    origin = origin_of(server.url)
    pool = ConnectionPool(str(tls_server.ca_path))
    own = pool.route(verify=False)
    assert own is not None

    async def requests() -> int:
        before = server.connections
        await get(pool, origin, "/echo")
        await get(pool, origin, "/echo", own)
        pool.verify = False  # `self.client.verify = False`
        assert pool.idle_count(origin) == 0  # made with the CA bundle: closed
        assert pool.idle_count(origin, own) == 1  # a request's own route: still good
        await get(pool, origin, "/echo")
        await get(pool, origin, "/echo", own)
        return server.connections - before

    assert run(requests) == 3
    assert pool.idle_count(origin, own) == 1  # reused after the change, not closed


def test_a_bad_ca_path_or_certificate_is_a_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = [
        (TLSSettings("/no/such/ca.pem"), "cannot load the CA bundle '/no/such/ca.pem'"),
        (TLSSettings(str(junk)), f"cannot load the CA bundle {str(junk)!r}"),
        (TLSSettings(True, ("/no/cert.pem", None)), "client certificate '/no/cert.pem'"),
        (TLSSettings(False, (str(junk), "/no/key.pem")), "with key '/no/key.pem'"),
    ]
    for settings, start in cases:
        with pytest.raises(TLSError) as caught:
            tls_context(settings)
        message = str(caught.value)
        assert start in message and "\n" not in message, message


def test_a_bad_ca_path_fails_the_connection_not_the_process(tls_server: TLSSetup) -> None:
    pool = ConnectionPool()
    route = pool.route(verify="/no/such/ca.pem")
    with pytest.raises(TLSError, match="pass the path of a PEM file"):
        run(lambda: get(pool, origin_of(tls_server.server.url), "/echo", route))


def test_arguments_that_requests_would_not_take_are_refused() -> None:
    with pytest.raises(TypeError, match="verify must be True, False or the path"):
        tls_settings(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cert must be the path"):
        tls_settings(True, ("a", "b", "c"))  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to rehash")
def test_verify_accepts_a_directory_of_ca_certificates(
    tls_server: TLSSetup, tmp_path: Path
) -> None:
    shutil.copy(tls_server.ca_path, tmp_path / "test-ca.pem")
    subprocess.run(["openssl", "rehash", str(tmp_path)], check=True, capture_output=True)
    pool = ConnectionPool(str(tmp_path))
    raw = run(lambda: get(pool, origin_of(tls_server.server.url), "/echo"))
    assert raw.status == 200
