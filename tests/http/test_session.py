"""HttpSession end to end against the loopback server: URLs, bodies, headers, samples."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from _loopback import Recorder, Server, run_blocking

from loadhopper._exceptions import BridgeError, HTTPError, InvalidURL, TooManyRedirects
from loadhopper.http import HttpSession, Response
from loadhopper.http import _session as session_module
from loadhopper.http._brotli import AVAILABLE as BROTLI_AVAILABLE


def echo(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = response.json()
    return data


def header(response: Response, name: str) -> str | None:
    for n, v in echo(response)["headers"]:
        if n.lower() == name.lower():
            return str(v)
    return None


def test_one_sample_per_request_in_lockstep_with_locusts_payload(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url + "/", request_sink=sink)
    response = run_blocking(lambda: session.get("/echo", context={"user": 7}))
    assert response.status_code == 200
    assert len(sink.samples) == 1
    sample = sink.last
    assert sample["request_type"] == "GET"
    assert sample["name"] == "/echo"
    assert isinstance(sample["response_time"], float) and sample["response_time"] > 0
    assert sample["response_length"] == len(response.content)
    assert sample["response"] is response
    assert sample["context"] == {"user": 7}
    assert sample["exception"] is None
    assert isinstance(sample["start_time"], float)
    assert sample["url"] == server.url + "/echo"


def test_context_defaults_to_a_fresh_dict(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    run_blocking(lambda: (session.get("/echo"), session.get("/echo")))
    first, second = sink.samples[0][5], sink.samples[1][5]
    assert first == {} and second == {} and first is not second


@pytest.mark.parametrize(
    ("base", "path", "target"),
    [
        ("{}/", "/echo", "/echo"),
        ("{}", "echo", "/echo"),
        ("{}/", "echo", "/echo"),
        ("{}", "//echo", "/echo"),
        ("{}/api/", "/echo", "/api/echo"),
        ("{}/api", "echo?x=1", "/api/echo?x=1"),
    ],
)
def test_exactly_one_slash_between_host_and_path(
    server: Server, sink: Recorder, base: str, path: str, target: str
) -> None:
    session = HttpSession(base.format(server.url), request_sink=sink)
    response = run_blocking(lambda: session.get(path))
    assert echo(response)["target"] == target
    assert sink.last["name"] == target


def test_absolute_urls_pass_through(server: Server, other_server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get(other_server.url + "/echo?a=b"))
    assert echo(response)["target"] == "/echo?a=b"
    assert header(response, "Host") == f"127.0.0.1:{other_server.port}"
    assert sink.last["url"] == other_server.url + "/echo?a=b"


def test_unsafe_characters_are_percent_encoded(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/echo/a b/é#fragment"))
    assert echo(response)["target"] == "/echo/a%20b/%C3%A9"


@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({"a": "1", "b": ["x", "y"], "skip": None}, "a=1&b=x&b=y"),
        ([("a", "1"), ("a", "2")], "a=1&a=2"),
        ("a=1&b=2", "a=1&b=2"),
    ],
)
def test_params(server: Server, sink: Recorder, params: Any, query: str) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/echo", params=params))
    assert echo(response)["target"] == "/echo?" + query
    assert sink.last["name"] == "/echo?" + query  # Locust names by path with query


def test_params_append_to_an_existing_query(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/echo?x=0", params={"y": 1}))
    assert echo(response)["target"] == "/echo?x=0&y=1"


def test_form_data_with_repeated_keys(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.post("/echo", {"name": "Tom", "tag": ["a", "b"]}))
    body = echo(response)
    assert body["method"] == "POST"
    assert body["body"] == "name=Tom&tag=a&tag=b"
    assert header(response, "Content-Type") == "application/x-www-form-urlencoded"
    assert header(response, "Content-Length") == str(len("name=Tom&tag=a&tag=b"))


def test_json_str_and_bytes_bodies(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[Response]:
        return [
            session.post("/echo", json={"a": [1, 2]}),
            session.post("/echo", data="plain text"),
            session.put("/echo", data=b"\x00\x01"),
        ]

    as_json, as_str, as_bytes = run_blocking(task)
    assert json.loads(echo(as_json)["body"]) == {"a": [1, 2]}
    assert header(as_json, "Content-Type") == "application/json"
    assert echo(as_str)["body"] == "plain text"
    assert header(as_str, "Content-Type") is None
    assert echo(as_bytes)["body"] == "\x00\x01"
    assert echo(as_bytes)["method"] == "PUT"


def test_a_post_without_body_sends_content_length_zero(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.post("/echo"))
    assert header(response, "Content-Length") == "0"


def test_default_headers_and_per_request_headers(server: Server, sink: Recorder) -> None:
    session = HttpSession(
        server.url, request_sink=sink, default_headers={"X-Team": "cats", "Accept": "text/html"}
    )

    def task() -> list[Response]:
        first = session.get("/echo")
        second = session.get("/echo", headers={"x-team": "dogs", "User-Agent": None})
        session.headers["Authorization"] = "Bearer token"  # as locustfiles do in on_start
        third = session.get("/echo")
        return [first, second, third]

    first, second, third = run_blocking(task)
    assert header(first, "X-Team") == "cats"
    assert header(first, "Accept") == "text/html"
    assert header(first, "Accept-Encoding") == (
        "gzip, deflate, br" if BROTLI_AVAILABLE else "gzip, deflate"
    )
    assert (
        header(
            first,
            "User-Agent",
        )
        is not None
    )
    assert header(second, "X-Team") == "dogs"
    assert header(second, "User-Agent") is None
    assert header(third, "Authorization") == "Bearer token"
    assert header(first, "Host") == f"127.0.0.1:{server.port}"


def test_a_repeated_request_sees_every_change_to_the_session(
    server: Server, other_server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[Response]:
        seen = [session.get("/echo"), session.get("/echo")]  # the second reuses the first
        session.headers["X-Step"] = "3"
        seen.append(session.get("/echo"))
        session.auth = ("alice", "secret")
        seen.append(session.get("/echo"))
        session.cookies["flavour"] = "mint"  # a cookie is stored: it must now be sent
        seen.append(session.get("/echo"))
        session.base_url = other_server.url
        seen.append(session.get("/echo"))
        return seen

    same, again, stepped, authed, cookied, moved = run_blocking(task)
    assert header(same, "X-Step") is None and header(again, "X-Step") is None
    assert header(stepped, "X-Step") == "3"
    assert header(authed, "Authorization") == "Basic YWxpY2U6c2VjcmV0"
    assert header(cookied, "Cookie") == "flavour=mint"
    assert header(moved, "Host") == f"127.0.0.1:{other_server.port}"


def test_basic_auth_from_argument_and_from_the_base_url(server: Server, sink: Recorder) -> None:
    plain = HttpSession(server.url, request_sink=sink)
    with_creds = HttpSession(f"http://user:p%40ss@127.0.0.1:{server.port}/", request_sink=sink)

    def task() -> list[Response]:
        return [plain.get("/echo", auth=("alice", "secret")), with_creds.get("/echo")]

    explicit, from_url = run_blocking(task)
    assert header(explicit, "Authorization") == "Basic YWxpY2U6c2VjcmV0"
    assert header(from_url, "Authorization") == "Basic dXNlcjpwQHNz"  # user:p@ss
    assert sink.samples[1][8] == f"http://127.0.0.1:{server.port}/echo"  # no credentials


def test_names_explicit_then_request_name_then_url_namer(server: Server, sink: Recorder) -> None:
    calls: list[str] = []

    def namer(path: str) -> str:
        calls.append(path)
        return path.replace("/17", "/[id]")

    session = HttpSession(server.url, request_sink=sink, url_namer=namer)

    def task() -> None:
        session.get("/echo/17")
        session.get("/echo/17")
        session.get("/echo/17", name="explicit")
        session.request_name = "attribute"
        session.get("/echo/17")
        session.request_name = None
        with session.rename_request("block"):
            session.get("/echo/1")
            session.get("/echo/2")
        session.get("/echo/17")

    run_blocking(task)
    names = [sample[1] for sample in sink.samples]
    assert names == [
        "/echo/[id]", "/echo/[id]", "explicit", "attribute", "block", "block", "/echo/[id]"
    ]  # fmt: skip
    assert calls == ["/echo/17"]  # cached: the namer ran once for the same path


def test_the_namer_cache_is_bounded_and_shared_by_sessions(
    server: Server, sink: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def namer(path: str) -> str:
        return path.partition("?")[0]

    cache: dict[tuple[object, str], str] = {}
    monkeypatch.setattr(session_module, "_NAMES", cache)
    first = HttpSession(server.url, request_sink=sink, url_namer=namer)
    second = HttpSession(server.url, request_sink=sink, url_namer=namer)
    run_blocking(lambda: first.get("/echo?x=1"))
    run_blocking(lambda: second.get("/echo?x=1"))
    assert cache == {(namer, "/echo?x=1"): "/echo"}  # one entry for both sessions
    cache.update({(namer, f"/{i}"): f"/{i}" for i in range(10_000)})
    run_blocking(lambda: first.get("/echo?unique=1"))
    assert len(cache) == 10_001  # full: a new URL is named but not remembered
    assert sink.last["name"] == "/echo"


def test_a_4xx_or_5xx_is_a_failure_with_a_short_groupable_message(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/status/404"))
    assert response.status_code == 404 and not response.ok
    exception = sink.last["exception"]
    assert isinstance(exception, HTTPError)
    assert f"{type(exception).__name__}: {exception}" == "HTTPError: 404 Not Found"
    assert sink.last["response"] is response
    run_blocking(lambda: session.get("/status/503"))
    assert str(sink.last["exception"]) == "503 Service Unavailable"


@pytest.mark.parametrize(
    ("status", "method", "body", "method_after", "body_after"),
    [
        (301, "POST", "x=1", "GET", ""),
        (302, "POST", "x=1", "GET", ""),
        (303, "PUT", "x=1", "GET", ""),
        (307, "POST", "x=1", "POST", "x=1"),
        (308, "PATCH", "x=1", "PATCH", "x=1"),
    ],
)
def test_redirects_change_or_keep_the_method(
    server: Server,
    sink: Recorder,
    status: int,
    method: str,
    body: str,
    method_after: str,
    body_after: str,
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(
        lambda: session.request(method, f"/redirect/{status}?to=/echo/after", data={"x": "1"})
    )
    assert response.status_code == 200
    assert echo(response)["method"] == method_after
    assert echo(response)["body"] == body_after
    assert response.url == server.url + "/echo/after"
    assert [r.status_code for r in response.history] == [status]
    assert len(sink.samples) == 1
    assert sink.last["name"] == f"/redirect/{status}?to=/echo/after"  # the original path
    assert sink.last["url"] == server.url + f"/redirect/{status}?to=/echo/after"


def test_head_stays_head_across_a_302(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.head("/redirect/302?to=/echo", allow_redirects=True))
    assert response.status_code == 200 and response.content == b""
    assert server.requests[-1] == ("HEAD", "/echo")


def test_head_does_not_follow_redirects_by_default(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.head("/redirect/302?to=/echo"))
    assert response.status_code == 302 and response.is_redirect


def test_cross_origin_redirects_use_the_other_origin_and_drop_auth(
    server: Server, other_server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/redirect/302?to=OTHER/echo", auth=("u", "p")))
    assert response.url == other_server.url + "/echo"
    assert header(response, "Host") == f"127.0.0.1:{other_server.port}"
    assert header(response, "Authorization") is None


def test_allow_redirects_false_returns_the_redirect(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/redirect/301?to=/echo", allow_redirects=False))
    assert response.status_code == 301
    assert response.headers["location"] == "/echo"
    assert sink.last["exception"] is None


def test_too_many_redirects_is_a_failure(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink, max_redirects=3)
    response = run_blocking(lambda: session.get("/loop"))
    assert response.status_code == 0
    assert isinstance(response.error, TooManyRedirects)
    assert isinstance(sink.last["exception"], TooManyRedirects)
    assert sink.last["response"] is None
    assert len([r for r in server.requests if r[1] == "/loop"]) == 4


@pytest.mark.parametrize(
    ("path", "text"),
    [("/gzip", "hello gzip"), ("/deflate", "hello deflate"), ("/deflate-raw", "hello raw")],
)
def test_compressed_bodies_are_decoded(
    server: Server, sink: Recorder, path: str, text: str
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get(path))
    assert response.text == text
    assert sink.last["response_length"] == len(text)  # the decoded length


def test_a_corrupt_compressed_body_is_a_failure(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(lambda: session.get("/bad-gzip"))
    assert response.status_code == 0
    assert "not valid gzip" in str(response.error)


def test_chunked_close_delimited_and_100_continue_responses(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[bytes]:
        return [
            session.get("/chunked").content,
            session.get("/close-delimited").content,
            session.get("/continue").content,
        ]

    assert run_blocking(task) == [b"hello chunk", b"until the end", b"after continue"]


def test_every_verb(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[Response]:
        return [
            session.get("/echo"),
            session.post("/echo"),
            session.put("/echo"),
            session.patch("/echo"),
            session.delete("/echo"),
            session.options("/echo"),
            session.head("/echo"),
            session.request("get", "/echo"),
        ]

    responses = run_blocking(task)
    assert [m for m, _ in server.requests] == [
        "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "GET"
    ]  # fmt: skip
    assert [s[0] for s in sink.samples] == [m for m, _ in server.requests]
    assert responses[6].content == b""


def test_the_async_twins(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> list[int]:
        responses = [
            await session.aget("/echo", params={"q": 1}),
            await session.apost("/echo", {"a": "1"}),
            await session.aput("/echo", "x"),
            await session.apatch("/echo", b"y"),
            await session.adelete("/echo"),
            await session.aoptions("/echo"),
            await session.ahead("/echo"),
            await session.arequest("GET", "/status/201"),
        ]
        await session.aclose()
        return [r.status_code for r in responses]

    assert asyncio.run(task()) == [200] * 7 + [201]
    assert [s[0] for s in sink.samples] == [
        "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "GET"
    ]  # fmt: skip


def test_concurrent_async_requests_on_one_session(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> list[int]:
        responses = await asyncio.gather(*(session.aget(f"/echo/{i}") for i in range(5)))
        return [int(echo(r)["target"].rsplit("/", 1)[1]) for r in responses]

    assert asyncio.run(task()) == [0, 1, 2, 3, 4]


def test_a_blocking_call_outside_a_user_greenlet_says_what_to_do(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    async def task() -> None:
        session.get("/echo")

    with pytest.raises(BridgeError, match=r"await self\.client\.aget"):
        asyncio.run(task())


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///nohost", "http://h:badport/"])
def test_invalid_urls_raise_and_record_nothing(sink: Recorder, url: str) -> None:
    session = HttpSession("", request_sink=sink)
    with pytest.raises(InvalidURL):
        run_blocking(lambda: session.get(url))
    assert sink.samples == []


def test_a_relative_url_without_a_base_url_says_what_to_do(sink: Recorder) -> None:
    session = HttpSession("", request_sink=sink)
    with pytest.raises(InvalidURL, match="needs a base URL"):
        run_blocking(lambda: session.get("/x"))


def test_an_invalid_base_url_is_refused() -> None:
    with pytest.raises(InvalidURL, match="http:// or https://"):
        HttpSession("localhost:5001", request_sink=lambda *a: None)


def test_base_url_can_be_changed(server: Server, other_server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    session.base_url = other_server.url + "/"
    response = run_blocking(lambda: session.get("/echo"))
    assert header(response, "Host") == f"127.0.0.1:{other_server.port}"
    assert session.base_url == other_server.url + "/"


def test_the_seed_locustfile_pattern_with_block_without_catch_response(
    server: Server, sink: Recorder
) -> None:
    # The seed's host has a trailing slash and its paths a leading one.
    session = HttpSession(server.url + "/", request_sink=sink)

    def task() -> str:
        with session.post("/echo", dict(name="Tom", age=3)) as resp:
            pk: str = resp.text
        return pk

    assert '"target": "/echo"' in run_blocking(task)
    assert len(sink.samples) == 1 and sink.last["exception"] is None
