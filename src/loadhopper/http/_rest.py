"""The checks behind `session.rest()`: JSON body into `resp.js`, exceptions into failures."""

from __future__ import annotations

from loadhopper.http._catch import ResponseContextManager

__all__ = ["fail_from_exception", "parse_js"]


def parse_js(response: ResponseContextManager) -> None:
    """Set `response.js` from the JSON body; mark the response failed when it is not JSON."""
    response.js = None
    if response.error is not None:
        response.failure(f"{type(response.error).__name__}: {response.error}")
        return
    if not response.content:
        return  # an empty body (204, say) is not an error
    try:
        response.js = response.json()
    except ValueError:
        response.failure(f"the response is not JSON (status {response.status_code})")


def fail_from_exception(response: ResponseContextManager, exc: Exception) -> None:
    """Record an exception raised inside a `rest` block as the request's failure.

    The message is short and the same for every occurrence of the same problem, so that
    failures group in the statistics.
    """
    if isinstance(exc, AssertionError):
        response.failure(str(exc) if exc.args else "assertion failed")
    else:
        response.failure(f"{type(exc).__name__}: {exc}")
