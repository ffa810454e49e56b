"""The keyword arguments of the request methods, typed, and the timeout argument."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from loadhopper.http._auth import AuthArg
from loadhopper.http._body import Data
from loadhopper.http._multipart import Files
from loadhopper.http._proxy import ProxiesArg
from loadhopper.http._tls import CertArg, VerifyArg
from loadhopper.http._url import Params

__all__ = [
    "BodyOptions",
    "PutOptions",
    "QueryOptions",
    "RequestOptions",
    "TimeoutArg",
    "check_deadline",
    "split_timeout",
]

# Seconds for both connect and read, a (connect, read) pair, or None for no limit.
TimeoutArg = float | tuple[float | None, float | None] | None


class _CommonOptions(TypedDict, total=False):
    name: str | None
    catch_response: bool
    context: dict[str, Any] | None
    headers: Mapping[str, str | None] | None
    cookies: Mapping[str, str] | None
    auth: AuthArg
    allow_redirects: bool
    timeout: TimeoutArg
    stream: bool
    deadline: float | None
    verify: VerifyArg | None
    cert: CertArg | None
    proxies: ProxiesArg | None


class BodyOptions(_CommonOptions, total=False):
    """What `get` takes besides `params`."""

    data: Data
    json: Any
    files: Files | None


class QueryOptions(_CommonOptions, total=False):
    """What `post` takes besides `data` and `json`."""

    params: Params
    files: Files | None


class PutOptions(_CommonOptions, total=False):
    """What `put` and `patch` take besides `data`."""

    params: Params
    json: Any
    files: Files | None


class RequestOptions(_CommonOptions, total=False):
    """Every keyword argument of `request`."""

    params: Params
    data: Data
    json: Any
    files: Files | None


def split_timeout(timeout: TimeoutArg) -> tuple[float | None, float | None]:
    """(connect, read) seconds from a `timeout=` argument.

    Raises:
        ValueError: the timeout is negative or a tuple of the wrong length.
    """
    if timeout is None:
        return (None, None)
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError("timeout must be seconds or a (connect, read) pair of seconds")
        connect, read = timeout
    else:
        connect = read = float(timeout)
    for value in (connect, read):
        if value is not None and value < 0:
            raise ValueError(f"timeout must not be negative (got {value}); use None for no limit")
    return (connect, read)


def check_deadline(deadline: float | None) -> float | None:
    """A `deadline=` argument: seconds from sending to the end of the response, or None.

    Raises:
        ValueError: the deadline is not a positive number of seconds.
    """
    if deadline is None:
        return None
    seconds = float(deadline)
    if not seconds > 0:
        raise ValueError(f"deadline must be a positive number of seconds (got {deadline})")
    return seconds
