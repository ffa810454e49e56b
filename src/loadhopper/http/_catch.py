"""`catch_response=True`: the task decides whether a response counts as a success.

Locust's semantics, kept exactly: the sample is recorded when the `with` block exits, not when
the response arrives (its response time is still the request's own). Inside the block
`resp.success()` and `resp.failure(reason)` decide; without either, a status >= 400 (or no
response at all) is a failure. A `ResponseError` raised in the block is recorded as the failure
and swallowed; any other exception propagates and the sample is not recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

from loadhopper._exceptions import CatchResponseError, LocustError, ResponseError
from loadhopper.http._response import Response, status_error

__all__ = ["RequestSink", "ResponseContextManager", "Sample"]

RequestSink = Callable[
    [str, str, float, int, Any, dict[str, Any], BaseException | None, float, str], None
]

# The request's measured values, captured when the response arrived:
# (request_type, name, response_time_ms, response_length, context, start_time, url).
Sample = tuple[str, str, float, int, dict[str, Any], float, str]

_UNSET: Any = object()
_RESPONSE_SLOTS = tuple(vars(Response)[slot] for slot in Response.__slots__)


class ResponseContextManager(Response):
    """A Response whose outcome the task decides inside a `with` (or `async with`) block.

    Attributes:
        js: the parsed JSON body inside `client.rest(...)`, else None.
    """

    __slots__ = ("_entered", "_exited", "_outcome", "_sample", "_sink", "js")

    def __init__(self, response: Response, sink: RequestSink, sample: Sample) -> None:
        # Take over the response's state, as Locust does. Through the slot descriptors, so
        # that a streamed body's unset `content` stays unset instead of being read here.
        for descriptor in _RESPONSE_SLOTS:
            try:
                value = descriptor.__get__(response, Response)
            except AttributeError:
                continue
            descriptor.__set__(self, value)
        self._sink = sink
        self._sample = sample
        self._outcome: Any = _UNSET  # None for success(), an exception for failure()
        self._entered = False
        self._exited = False
        self.js: Any = None

    def success(self) -> None:
        """Record this request as a success, whatever its status."""
        self._check_inside()
        self._outcome = None

    def failure(self, exc: Exception | str) -> None:
        """Record this request as a failure; a string becomes a `CatchResponseError`."""
        self._check_inside()
        self._outcome = CatchResponseError(exc) if isinstance(exc, str) else exc

    def _check_inside(self) -> None:
        if not self._entered or self._exited:
            raise LocustError(
                "success() and failure() only work inside the `with` block of a request made "
                "with catch_response=True; move the call into the block"
            )

    def __enter__(self) -> ResponseContextManager:
        self._entered = True
        return self

    # Response.__exit__ never swallows an exception; this one may, hence the override.
    def __exit__(  # type: ignore[override]
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self._exited = True
        if self._outcome is not _UNSET:
            self._report(self._outcome)
            return exc is None
        if exc is not None:
            if isinstance(exc, ResponseError):
                self._report(exc)
                return True
            return False  # unknown exceptions propagate, unrecorded (Locust does the same)
        if self.error is not None:
            self._report(self.error)
        elif self.status_code >= 400:
            self._report(status_error(self))
        else:
            self._report(None)
        return True

    async def __aenter__(self) -> ResponseContextManager:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def _report(self, exception: BaseException | None) -> None:
        method, name, response_time, length, context, start_time, url = self._sample
        response = None if self.status_code == 0 else self
        self._sink(
            method, name, response_time, length, response, context, exception, start_time, url
        )
