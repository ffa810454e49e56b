"""requests' verbs (`get`, `post`...), their awaitable twins, `rest` and `rename_request`.

A mixin so that the session file holds the request machinery and this one the API surface.
Every verb is one call into `request` or `arequest`, which do the work. The blocking `get`
and `post` pass their arguments by name when no others were given: a call that spreads an
empty `**kwargs` builds and merges a dict, about half a microsecond on every request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, Unpack

from loadhopper.http._body import Data
from loadhopper.http._catch import ResponseContextManager
from loadhopper.http._options import BodyOptions, PutOptions, QueryOptions, RequestOptions
from loadhopper.http._response import Response
from loadhopper.http._rest import fail_from_exception, parse_js
from loadhopper.http._url import Params

__all__ = ["RequestVerbs"]


class RequestVerbs:
    """The verbs of `HttpSession`, written once against `request` and `arequest`."""

    request_name: str | None

    if TYPE_CHECKING:

        def request(self, method: str, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
            """Defined by HttpSession."""

        async def arequest(
            self, method: str, url: str, **kwargs: Unpack[RequestOptions]
        ) -> Response:
            """Defined by HttpSession."""

    # --- blocking, for ordinary (greenlet) tasks -------------------------------------------------

    def get(self, url: str, params: Params = None, **kwargs: Unpack[BodyOptions]) -> Response:
        """GET `url`, with an optional query from `params`."""
        if not kwargs:
            return self.request("GET", url, params=params)
        return self.request("GET", url, params=params, **kwargs)

    def post(
        self, url: str, data: Data = None, json: Any = None, **kwargs: Unpack[QueryOptions]
    ) -> Response:
        """POST `data` (a dict is sent as a form) or `json` to `url`."""
        if not kwargs:
            return self.request("POST", url, data=data, json=json)
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Data = None, **kwargs: Unpack[PutOptions]) -> Response:
        """PUT `data` (or `json=`) to `url`."""
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Data = None, **kwargs: Unpack[PutOptions]) -> Response:
        """PATCH `data` (or `json=`) to `url`."""
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """DELETE `url`."""
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """HEAD `url`; redirects are not followed unless allow_redirects=True (as requests)."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """OPTIONS `url`."""
        return self.request("OPTIONS", url, **kwargs)

    # --- awaitable, for `async def` tasks --------------------------------------------------------

    async def aget(
        self, url: str, params: Params = None, **kwargs: Unpack[BodyOptions]
    ) -> Response:
        """Awaitable `get`."""
        return await self.arequest("GET", url, params=params, **kwargs)

    async def apost(
        self, url: str, data: Data = None, json: Any = None, **kwargs: Unpack[QueryOptions]
    ) -> Response:
        """Awaitable `post`."""
        return await self.arequest("POST", url, data=data, json=json, **kwargs)

    async def aput(self, url: str, data: Data = None, **kwargs: Unpack[PutOptions]) -> Response:
        """Awaitable `put`."""
        return await self.arequest("PUT", url, data=data, **kwargs)

    async def apatch(self, url: str, data: Data = None, **kwargs: Unpack[PutOptions]) -> Response:
        """Awaitable `patch`."""
        return await self.arequest("PATCH", url, data=data, **kwargs)

    async def adelete(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """Awaitable `delete`."""
        return await self.arequest("DELETE", url, **kwargs)

    async def ahead(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """Awaitable `head` (no redirects followed by default)."""
        kwargs.setdefault("allow_redirects", False)
        return await self.arequest("HEAD", url, **kwargs)

    async def aoptions(self, url: str, **kwargs: Unpack[RequestOptions]) -> Response:
        """Awaitable `options`."""
        return await self.arequest("OPTIONS", url, **kwargs)

    # --- naming and REST -------------------------------------------------------------------------

    @contextmanager
    def rename_request(self, name: str) -> Iterator[None]:
        """Group every request made inside the block under `name` in the statistics."""
        previous = self.request_name
        self.request_name = name
        try:
            yield
        finally:
            self.request_name = previous

    @contextmanager
    def rest(
        self, method: str, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Iterator[ResponseContextManager]:
        """A JSON request whose checks live in the `with` block (Locust FastHttpUser's `rest`).

        Sends JSON Accept and Content-Type headers and forces catch_response. The body is
        parsed into `resp.js` (None, and a failure, when it is not JSON). An AssertionError or
        any other exception raised in the block becomes the request's failure.
        """
        response = self.request(
            method, url, headers=_rest_headers(headers), catch_response=True, **kwargs
        )
        assert isinstance(response, ResponseContextManager)
        with response:
            parse_js(response)
            try:
                yield response
            except Exception as exc:  # every failure in the block is recorded, as Locust does
                fail_from_exception(response, exc)

    @asynccontextmanager
    async def arest(
        self, method: str, url: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> AsyncIterator[ResponseContextManager]:
        """Awaitable `rest`, for `async with self.client.arest(...) as resp:`."""
        response = await self.arequest(
            method, url, headers=_rest_headers(headers), catch_response=True, **kwargs
        )
        assert isinstance(response, ResponseContextManager)
        with response:
            parse_js(response)
            try:
                yield response
            except Exception as exc:  # every failure in the block is recorded, as Locust does
                fail_from_exception(response, exc)


def _rest_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    merged = {"Content-Type": "application/json", "Accept": "application/json"}
    if headers:
        merged.update(headers)
    return merged
