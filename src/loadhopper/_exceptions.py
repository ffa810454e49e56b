"""Every exception loadhopper defines, in two families.

Errors (something went wrong; the message says what and what to do)::

    LoadhopperError
     ├── LocustError                    (Locust's name, kept for `except LocustError`)
     │    ├── ResponseError
     │    │    └── CatchResponseError   (what `resp.failure("text")` records)
     │    └── MissingWaitTimeError
     ├── ConfigError                    (bad flag, config file or environment variable)
     │    └── RayTransportError         (a Ray run could not start: no cluster, too few CPUs)
     │         └── RayNotInstalled      (--ray without the ray package; also an ImportError)
     ├── LocustfileError                (does not import, no User class, unknown class)
     ├── BridgeError                    (blocking client call outside a user greenlet)
     ├── StreamConsumedError            (a streamed body read twice)
     └── RequestError                   (an HTTP request got no usable response)
          ├── InvalidURL                (raised to the caller, never recorded as a sample)
          ├── ConnectError
          │    ├── NameResolutionError
          │    └── TLSError             (handshake or certificate verification failed)
          ├── Timeout
          │    ├── ConnectTimeout
          │    ├── ReadTimeout          (no byte for longer than the read timeout)
          │    └── DeadlineExceeded     (the whole response took longer than `deadline=`)
          ├── ReadError                 (the connection broke while waiting for the response)
          │    └── StaleConnection      (a reused connection broke; the request was resent)
          ├── RemoteProtocolError       (the server's bytes are not valid HTTP/1.1)
          ├── ResponseTooLarge          (the body is over max_body_size or max_decoded_size)
          ├── RequestInterrupted        (the user was stopped while the request was on the wire)
          ├── TooManyRedirects
          └── HTTPError                 (status >= 400; what `raise_for_status()` raises)

Control-flow signals (raised by user code to steer the runner; not errors)::

    ControlFlowSignal
     ├── StopUser
     ├── StopTest
     ├── RescheduleTask
     │    └── RescheduleTaskImmediately
     └── InterruptTaskSet
"""

from __future__ import annotations

__all__ = [
    "BridgeError",
    "CatchResponseError",
    "ConfigError",
    "ConnectError",
    "ConnectTimeout",
    "ControlFlowSignal",
    "DeadlineExceeded",
    "HTTPError",
    "InterruptTaskSet",
    "InvalidURL",
    "LoadhopperError",
    "LocustError",
    "LocustfileError",
    "MissingWaitTimeError",
    "NameResolutionError",
    "RayNotInstalled",
    "RayTransportError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "RequestError",
    "RequestInterrupted",
    "RescheduleTask",
    "RescheduleTaskImmediately",
    "ResponseError",
    "ResponseTooLarge",
    "StaleConnection",
    "StopTest",
    "StopUser",
    "StreamConsumedError",
    "TLSError",
    "Timeout",
    "TooManyRedirects",
]


class LoadhopperError(Exception):
    """The root of every error loadhopper raises."""


class LocustError(LoadhopperError):
    """Locust's base error name, kept so that `except LocustError` in a locustfile works."""


class ResponseError(LocustError):
    """A response was not what the task expected."""


class CatchResponseError(ResponseError):
    """The failure recorded by `response.failure("reason")` inside `catch_response=True`."""


class MissingWaitTimeError(LocustError):
    """A User or TaskSet has no `wait_time` where one is needed."""


class ConfigError(LoadhopperError):
    """A command-line flag, config file or environment variable is invalid."""


class RayTransportError(ConfigError):
    """A Ray run could not start: no cluster, too few CPUs, a worker that failed to start."""


class RayNotInstalled(RayTransportError, ImportError):
    """`--ray` without the `ray` package installed."""


class LocustfileError(LoadhopperError):
    """A locustfile cannot be used: it does not import, or defines no usable User class."""


class BridgeError(LoadhopperError):
    """A blocking client call was made where it cannot block (outside a user's greenlet)."""


class StreamConsumedError(LoadhopperError):
    """The body of a `stream=True` response was already read by iterating over it."""


class RequestError(LoadhopperError):
    """An HTTP request got no usable response; the session records it as a failed sample."""


class InvalidURL(RequestError):
    """A URL cannot be requested (no host, unsupported scheme, bad port, bad characters)."""


class ConnectError(RequestError):
    """The TCP (or TLS) connection to the server could not be opened."""


class NameResolutionError(ConnectError):
    """The host name does not resolve to an address."""


class TLSError(ConnectError):
    """The TLS handshake failed, for example because the certificate did not verify."""


class Timeout(RequestError):
    """A connect or read deadline passed."""


class ConnectTimeout(Timeout):
    """The connection was not established within the connect timeout."""


class ReadTimeout(Timeout):
    """No byte of the response arrived for longer than the read timeout (as in requests)."""


class DeadlineExceeded(Timeout):
    """The whole response (redirects included) took longer than the request's `deadline=`."""


class ReadError(RequestError):
    """The connection was reset or broke while the response was awaited."""


class StaleConnection(ReadError):
    """A reused keep-alive connection broke before any byte of the response came back.

    The server most likely closed the connection while it sat idle, but it may also have
    received the request: this failure records that attempt, and the request (of an
    idempotent method) was sent again on a new connection, which is recorded on its own.
    """


class RemoteProtocolError(RequestError):
    """The server sent bytes that are not a valid HTTP/1.1 response, or closed too early."""


class ResponseTooLarge(RequestError):
    """The response body is larger than the session's `BodyLimits` allow (wire or decoded)."""


class RequestInterrupted(RequestError):
    """The user was stopped (the test's stop, after its drain) while its request was on the wire.

    The server may have received the request, so it is recorded once, as this failure,
    rather than dropped: every request that may have reached the target is counted.
    """


class TooManyRedirects(RequestError):
    """A request was redirected more times than `max_redirects` allows."""


class HTTPError(RequestError):
    """The response status was 400 or above (what `Response.raise_for_status()` raises).

    The message is only the status and reason (`404 Not Found`), never the URL, so that
    failures group by request name in the statistics.
    """

    def __init__(self, message: str, response: object | None = None) -> None:
        super().__init__(message)
        self.response = response


class ControlFlowSignal(Exception):
    """Base of the exceptions that user code raises to steer the runner."""


class StopUser(ControlFlowSignal):
    """Stop this user: its `on_stop` runs, then it ends."""


class StopTest(ControlFlowSignal):
    """Stop the whole test (headless: the run ends and outputs are written)."""


class RescheduleTask(ControlFlowSignal):
    """End the current task now; the user waits, then picks its next task."""


class RescheduleTaskImmediately(RescheduleTask):
    """End the current task now and pick the next one without waiting."""


class InterruptTaskSet(ControlFlowSignal):
    """Leave the current TaskSet and return control to its parent."""

    def __init__(self, reschedule: bool = True) -> None:
        super().__init__(reschedule)
        self.reschedule = reschedule
