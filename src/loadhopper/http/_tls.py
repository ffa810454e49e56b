"""TLS settings as a value (`verify=`, `cert=`, as requests takes them) and their contexts.

A `TLSSettings` is hashable and compares by value, so it can be part of the key the pool
files idle connections under: a connection verified against one CA bundle, or presenting
one client certificate, is never handed to a request that asked for other settings. Its
`ssl.SSLContext` is built once per distinct setting and shared by every session that uses
it: loading the system CAs takes milliseconds, and 10,000 users must not each pay that.
"""

from __future__ import annotations

import functools
import os
import ssl
from dataclasses import dataclass

from loadhopper._exceptions import TLSError

__all__ = [
    "DEFAULT_TLS",
    "CertArg",
    "TLSSettings",
    "VerifyArg",
    "merge_tls",
    "tls_context",
    "tls_settings",
]

# As requests takes them: True (the system's CAs), False (no check), or the path of a CA
# bundle file or of a directory of CA certificates.
VerifyArg = bool | str | os.PathLike[str]
# A PEM file holding the client certificate and its key, or a (certificate, key) pair.
CertArg = str | os.PathLike[str] | tuple[str | os.PathLike[str], str | os.PathLike[str]]

# Distinct settings whose contexts are kept. A test normally uses one or two; a test that
# gives each user its own client certificate uses one per user, and past this bound the
# least recently used context is built again at its next connect (never per request).
_CONTEXT_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """How a connection does TLS: what it verifies the server against, what it presents.

    Attributes:
        verify: True (the system's CAs), False (no verification), or a CA bundle path (a
            PEM file, or a directory of hashed CA certificates as `openssl rehash` makes).
        cert: None, or (certificate path, key path or None when the key is in the
            certificate's file).
    """

    verify: bool | str = True
    cert: tuple[str, str | None] | None = None


DEFAULT_TLS = TLSSettings()


def tls_settings(verify: VerifyArg = True, cert: CertArg | None = None) -> TLSSettings:
    """The settings for requests-style `verify=` and `cert=` arguments.

    Raises:
        TypeError: an argument is not one of the forms requests takes.
    """
    if isinstance(verify, bool):
        checked: bool | str = verify
    elif isinstance(verify, str | os.PathLike):
        checked = os.fspath(verify)
    else:
        raise TypeError(f"verify must be True, False or the path of a CA bundle (got {verify!r})")
    pair: tuple[str, str | None] | None
    if cert is None:
        pair = None
    elif isinstance(cert, str | os.PathLike):
        pair = (os.fspath(cert), None)
    elif isinstance(cert, tuple | list) and len(cert) == 2:
        pair = (os.fspath(cert[0]), os.fspath(cert[1]))
    else:
        raise TypeError(
            "cert must be the path of a PEM file with the certificate and its key, or a "
            f"(certificate, key) pair of paths (got {cert!r})"
        )
    if checked is True and pair is None:
        return DEFAULT_TLS  # one object for the common case: comparisons stop at identity
    return TLSSettings(checked, pair)


def merge_tls(base: TLSSettings, verify: VerifyArg | None, cert: CertArg | None) -> TLSSettings:
    """`base` with a request's `verify=` and `cert=` over it (None keeps base's, as requests).

    Raises:
        TypeError: as `tls_settings`.
    """
    if cert is None and base.cert is not None:
        certfile, keyfile = base.cert
        cert = certfile if keyfile is None else (certfile, keyfile)
    return tls_settings(base.verify if verify is None else verify, cert)


@functools.lru_cache(maxsize=_CONTEXT_CACHE_SIZE)
def tls_context(settings: TLSSettings) -> ssl.SSLContext:
    """The client context for `settings`, built once and shared.

    Raises:
        TLSError: the CA bundle or the client certificate cannot be loaded (the message
            names the file and what to pass instead).
    """
    verify = settings.verify
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
    else:
        try:
            if os.path.isdir(verify):
                context = ssl.create_default_context(capath=verify)
            else:
                context = ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise TLSError(
                f"cannot load the CA bundle {verify!r} ({_reason(exc)}); pass the path of a "
                "PEM file or of a directory of CA certificates"
            ) from exc
    if settings.cert is not None:
        certfile, keyfile = settings.cert
        try:
            # A password callback, so that an encrypted key fails here instead of OpenSSL
            # prompting on the terminal and blocking the event loop.
            context.load_cert_chain(certfile, keyfile, password=_no_password)
        except (OSError, ssl.SSLError) as exc:
            where = repr(certfile) if keyfile is None else f"{certfile!r} with key {keyfile!r}"
            raise TLSError(
                f"cannot load the client certificate {where} ({_reason(exc)}); pass cert= a "
                "PEM file holding the certificate and its unencrypted key, or a "
                "(certificate, key) pair of paths"
            ) from exc
    context.set_alpn_protocols(["http/1.1"])
    return context


def _no_password() -> str:
    return ""


def _reason(exc: OSError | ssl.SSLError) -> str:
    """A short cause: the OS error's text, or OpenSSL's reason code."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return exc.strerror or str(exc)
