"""`session.mount(prefix, adapter)`: what of requests' transport adapters loadhopper honours.

A locustfile mounts `requests.adapters.HTTPAdapter` for two reasons: its connection pool
sizes, and its `max_retries` (a count or a urllib3 `Retry`). loadhopper's session is its
own transport, so an adapter is checked once, when it is mounted, and kept in `adapters`
(requests' name) without touching the per-request path:

* pool sizes (`pool_connections`, `pool_maxsize`, `pool_block`) are accepted; they change
  nothing, because each user's pool keeps every connection it opens (one per request in
  flight) and never makes a request wait for one;
* no retries (`max_retries=0`, requests' default `Retry(0, read=False)`) is what loadhopper
  does anyway: a request is sent once, and again only when a reused keep-alive connection
  broke before any response (that attempt is recorded as its own failure);
* anything else fails at once with one sentence saying what cannot be honoured: retries
  (loadhopper records each attempt instead of hiding it in one sample), and adapters that
  replace `send` or set up their own pool or TLS (`init_poolmanager`, `cert_verify`, ...).
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_adapter"]

# The HTTPAdapter methods whose override means the adapter does the transport its own way.
_TRANSPORT_METHODS = (
    "send",
    "init_poolmanager",
    "proxy_manager_for",
    "get_connection",
    "get_connection_with_tls_context",
    "build_connection_pool_key_attributes",
    "cert_verify",
)


def _http_adapter_base(adapter: object) -> type | None:
    """requests' HTTPAdapter in the adapter's class hierarchy (requests is not imported)."""
    for cls in type(adapter).__mro__:
        if cls.__name__ == "HTTPAdapter" and cls.__module__ == "requests.adapters":
            return cls
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _retry_count(retries: Any) -> int:
    """How many retries an adapter's `max_retries` allows (urllib3's Retry, or an int)."""
    if _is_count(retries):
        return int(retries)
    total: Any = getattr(retries, "total", None)
    if _is_count(total):
        return int(total)  # urllib3: the total caps every other count
    fields = ("connect", "read", "status", "other")
    counts: list[Any] = [getattr(retries, field, None) for field in fields]
    return max((int(count) for count in counts if _is_count(count)), default=0)


def check_adapter(prefix: str, adapter: object) -> None:
    """Refuse, with one sentence, an adapter whose behaviour loadhopper cannot honour.

    Raises:
        TypeError: `adapter` is not requests' HTTPAdapter, or it replaces the transport.
        ValueError: the adapter asks for retries.
    """
    base = _http_adapter_base(adapter)
    name = type(adapter).__name__
    if base is None:
        raise TypeError(
            f"mount({prefix!r}, {name}) is not supported: loadhopper's session is its own "
            "transport and takes only requests' HTTPAdapter (for its pool sizes and "
            "max_retries=0)"
        )
    for method in _TRANSPORT_METHODS:
        own = getattr(type(adapter), method, None)
        if own is not None and own is not getattr(base, method, None):
            raise TypeError(
                f"mount({prefix!r}, {name}): the adapter overrides {method}(), which loadhopper "
                "does not call (it sends requests itself); use the session's verify=, cert= or "
                "headers instead, or drop the mount"
            )
    retries = getattr(adapter, "max_retries", 0)
    count = _retry_count(retries)
    forcelist = getattr(retries, "status_forcelist", None)
    if count > 0 or forcelist:
        raise ValueError(
            f"mount({prefix!r}, {name}): retries (max_retries={retries!r}) are not supported: "
            "loadhopper sends each request once and records every attempt; use "
            "max_retries=0, or retry in the task"
        )
