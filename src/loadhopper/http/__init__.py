"""loadhopper's HTTP/1.1 client: a sans-IO protocol on httptools, asyncio connections, a pool,
and `HttpSession`, a requests-compatible session that records one sample per request.
"""

from loadhopper.http._catch import RequestSink, ResponseContextManager
from loadhopper.http._cookies import CookieJar
from loadhopper.http._headers import Headers
from loadhopper.http._limits import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE, BodyLimits
from loadhopper.http._prepared import PreparedRequest
from loadhopper.http._response import Response
from loadhopper.http._session import HttpSession
from loadhopper.http._source import (
    SourceAddresses,
    connect_port_range,
    parse_local_ips,
    port_budget_warning,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_DECODED_SIZE",
    "BodyLimits",
    "CookieJar",
    "Headers",
    "HttpSession",
    "PreparedRequest",
    "RequestSink",
    "Response",
    "ResponseContextManager",
    "SourceAddresses",
    "connect_port_range",
    "parse_local_ips",
    "port_budget_warning",
]
