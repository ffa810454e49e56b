"""The rest of requests' session API against the loopback server: assigning `headers`,
`files=` multipart uploads, `auth=` objects, and `response.request`."""

from __future__ import annotations

import base64
import io
import json
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests.auth
from _loopback import Recorder, Server, run_blocking

from loadhopper.http import HttpSession, Response
from loadhopper.http._prepared import PreparedRequest


def echo(response: Response) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.content)
    return data


def received_headers(response: Response) -> dict[str, str]:
    """The headers the server read, by lower-case name."""
    return {name.lower(): value for name, value in echo(response)["headers"]}


# --- headers = {...} --------------------------------------------------------------------------


def test_assigning_a_plain_dict_replaces_the_session_headers(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[dict[str, str]]:
        seen = [received_headers(session.get("/echo"))]
        session.headers = {"Authorization": "Bearer one", "X-App": "a"}
        seen.append(received_headers(session.get("/echo")))
        session.headers.update({"X-App": "b"})
        session.headers["X-More"] = "m"
        seen.append(received_headers(session.get("/echo")))
        del session.headers["Authorization"]
        seen.append(received_headers(session.get("/echo")))
        return seen

    before, assigned, updated, deleted = run_blocking(task)
    assert before["user-agent"].startswith("loadhopper/")
    # As in requests: the mapping is the whole set of session headers from then on.
    assert assigned["authorization"] == "Bearer one" and assigned["x-app"] == "a"
    assert "user-agent" not in assigned and "accept-encoding" not in assigned
    assert assigned["host"] == f"127.0.0.1:{server.port}"
    assert updated["x-app"] == "b" and updated["x-more"] == "m"
    assert "authorization" not in deleted and deleted["x-more"] == "m"
    assert all(sample[6] is None for sample in sink.samples)


def test_assigned_headers_are_a_case_insensitive_mutable_mapping(sink: Recorder) -> None:
    session = HttpSession("http://127.0.0.1:1", request_sink=sink)
    session.headers = {"X-Token": "t"}
    assert session.headers["x-token"] == "t"
    session.headers["x-token"] = "u"
    assert dict(session.headers) == {"x-token": "u"}
    with pytest.raises(TypeError, match="mapping"):
        session.headers = ["X-Token"]  # type: ignore[assignment]


# --- files= -----------------------------------------------------------------------------------


def parts_of(response: Response) -> tuple[str, list[Message]]:
    """The Content-Type the server read and the parts of the multipart body it read."""
    data = echo(response)
    content_type = received_headers(response)["content-type"]
    body = data["body"].encode("latin-1")
    assert int(received_headers(response)["content-length"]) == len(body)
    message = BytesParser().parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    assert message.is_multipart() and message.defects == []
    payload = message.get_payload()
    assert isinstance(payload, list)
    return content_type, payload


def describe(part: Message) -> tuple[str | None, str | None, str | None, bytes]:
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return (
        part.get_param("name", header="content-disposition"),  # type: ignore[return-value]
        part.get_filename(),
        part.get("Content-Type"),
        content,
    )


def test_files_as_a_dict_with_every_value_form_beside_data(
    server: Server, sink: Recorder, tmp_path: Path
) -> None:
    on_disk = tmp_path / "report.csv"
    on_disk.write_bytes(b"a,b\n1,2\n")
    session = HttpSession(server.url, request_sink=sink)

    def task() -> Response:
        with on_disk.open("rb") as handle:
            return session.post(
                "/echo",
                data={"title": "cats", "tags": ["x", "y"]},
                files={
                    "disk": handle,
                    "raw": b"\x00\x01binary",
                    "text": "plain text ✓",
                    "pair": ("a.txt", b"pair content"),
                    "typed": ("b.json", io.BytesIO(b'{"k": 1}'), "application/json"),
                    "headed": ("c.bin", b"abc", "application/octet-stream", {"X-Part": "1"}),
                    "skipped": None,
                },
            )

    response = run_blocking(task)
    content_type, parts = parts_of(response)
    assert content_type.startswith("multipart/form-data; boundary=")
    described = [describe(part) for part in parts]
    assert described == [
        ("title", None, None, b"cats"),
        ("tags", None, None, b"x"),
        ("tags", None, None, b"y"),
        ("disk", "report.csv", None, b"a,b\n1,2\n"),
        ("raw", "raw", None, b"\x00\x01binary"),
        ("text", "text", None, "plain text ✓".encode()),
        ("pair", "a.txt", None, b"pair content"),
        ("typed", "b.json", "application/json", b'{"k": 1}'),
        ("headed", "c.bin", "application/octet-stream", b"abc"),
    ]
    assert parts[-1]["X-Part"] == "1"
    assert sink.last["exception"] is None and sink.last["name"] == "/echo"


def test_files_as_a_list_keep_their_order_and_repeat_names(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(
        lambda: session.put(
            "/echo",
            files=[("f", ("1.txt", b"one")), ("f", ("2.txt", b"two")), ("g", b"three")],
        )
    )
    assert echo(response)["method"] == "PUT"
    assert [describe(part) for part in parts_of(response)[1]] == [
        ("f", "1.txt", None, b"one"),
        ("f", "2.txt", None, b"two"),
        ("g", "g", None, b"three"),
    ]


def test_quotes_and_line_breaks_in_names_cannot_break_the_part_headers(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    response = run_blocking(
        lambda: session.post("/echo", files={'a"b': ('x\r\nX-Evil: 1".txt', b"data")})
    )
    parts = parts_of(response)[1]
    assert len(parts) == 1 and parts[0]["X-Evil"] is None
    assert parts[0].get_payload(decode=True) == b"data"


def test_an_explicit_content_type_header_wins_and_two_uploads_get_two_boundaries(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[Response, Response]:
        return (
            session.post("/echo", files={"f": b"1"}),
            session.post("/echo", files={"f": b"1"}, headers={"Content-Type": "text/x-mine"}),
        )

    first, second = run_blocking(task)
    assert received_headers(second)["content-type"] == "text/x-mine"
    again = run_blocking(lambda: session.post("/echo", files={"f": b"1"}))
    assert received_headers(first)["content-type"] != received_headers(again)["content-type"]


def test_files_refuse_a_raw_data_body_and_unsendable_values(sink: Recorder) -> None:
    session = HttpSession("http://127.0.0.1:1", request_sink=sink)
    with pytest.raises(ValueError, match="data= cannot be a str or bytes body"):
        run_blocking(lambda: session.post("/x", data="raw", files={"f": b"1"}))
    with pytest.raises(TypeError, match="give a file object, bytes or str"):
        run_blocking(lambda: session.post("/x", files={"f": 12}))
    with pytest.raises(TypeError, match="tuple of 5 items"):
        run_blocking(lambda: session.post("/x", files={"f": ("a", b"", "t", {}, 1)}))
    assert sink.samples == []


# --- auth= ------------------------------------------------------------------------------------


class TokenAuth(requests.auth.AuthBase):
    """A custom AuthBase as locustfiles write them."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.seen: list[tuple[str, str, bytes | str | None]] = []

    def __call__(self, r: Any) -> Any:
        self.seen.append((r.method, r.url, r.body))
        r.headers["X-Token"] = self.token
        return r


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_a_custom_auth_object_per_request_sees_the_request_and_sets_a_header(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    auth = TokenAuth("t-1")
    response = run_blocking(lambda: session.post("/echo?q=1", data={"a": "b"}, auth=auth))
    assert received_headers(response)["x-token"] == "t-1"
    assert auth.seen == [("POST", f"{server.url}/echo?q=1", b"a=b")]
    assert sink.last["name"] == "/echo?q=1" and sink.last["exception"] is None


def test_requests_basic_auth_per_request_and_on_the_session(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> list[dict[str, str]]:
        seen = [received_headers(session.get("/echo", auth=requests.auth.HTTPBasicAuth("a", "1")))]
        session.auth = requests.auth.HTTPBasicAuth("bob", "pw")
        seen.append(received_headers(session.get("/echo")))
        seen.append(received_headers(session.get("/echo")))  # called again, not reused
        seen.append(received_headers(session.get("/echo", auth=("carol", "x"))))  # wins
        session.auth = None
        seen.append(received_headers(session.get("/echo")))
        return seen

    per_request, on_session, repeated, overridden, cleared = run_blocking(task)
    assert per_request["authorization"] == basic("a", "1")
    assert on_session["authorization"] == repeated["authorization"] == basic("bob", "pw")
    assert overridden["authorization"] == basic("carol", "x")
    assert "authorization" not in cleared
    assert session.auth is None


def test_a_session_auth_object_is_called_on_every_request(server: Server, sink: Recorder) -> None:
    counter = iter(range(100))

    def rotating(r: PreparedRequest) -> PreparedRequest:
        r.headers["X-Seq"] = str(next(counter))
        return r

    session = HttpSession(server.url, request_sink=sink)
    session.auth = rotating
    seen = run_blocking(lambda: [received_headers(session.get("/echo")) for _ in range(3)])
    assert [headers["x-seq"] for headers in seen] == ["0", "1", "2"]
    assert session.auth is rotating


def test_an_auth_object_may_rewrite_url_body_and_remove_headers(
    server: Server, sink: Recorder
) -> None:
    def signer(r: PreparedRequest) -> PreparedRequest:
        r.url += "&sig=abc"
        r.body = (r.body or b"") + b"&signed=1"
        del r.headers["User-Agent"]
        r.headers["X-Signed"] = r.headers["Content-Type"]
        return r

    session = HttpSession(server.url, request_sink=sink)
    session.auth = ("session", "creds")  # replaced by the request's auth object
    response = run_blocking(lambda: session.post("/echo?q=1", data={"a": "b"}, auth=signer))
    data, headers = echo(response), received_headers(response)
    assert data["target"] == "/echo?q=1&sig=abc"
    assert data["body"] == "a=b&signed=1"
    assert headers["content-length"] == str(len("a=b&signed=1"))
    assert headers["x-signed"] == "application/x-www-form-urlencoded"
    assert "user-agent" not in headers and "authorization" not in headers
    assert response.request.url == f"{server.url}/echo?q=1&sig=abc"


def test_auth_headers_do_not_follow_a_redirect_to_another_origin(
    server: Server, other_server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    session.headers["Authorization"] = "Bearer session-header"
    response = run_blocking(
        lambda: session.get(
            "/redirect/302?to=OTHER/echo", auth=requests.auth.HTTPBasicAuth("u", "p")
        )
    )
    assert response.url == other_server.url + "/echo"
    assert "authorization" not in received_headers(response)
    same = run_blocking(lambda: session.get("/redirect/307?to=/echo", auth=TokenAuth("t")))
    assert received_headers(same)["x-token"] == "t"  # the same origin keeps them


def test_digest_auth_and_other_values_are_refused_clearly(sink: Recorder) -> None:
    session = HttpSession("http://127.0.0.1:1", request_sink=sink)
    with pytest.raises(TypeError, match="response hooks are not supported"):
        run_blocking(lambda: session.get("/x", auth=requests.auth.HTTPDigestAuth("u", "p")))
    with pytest.raises(TypeError, match="auth of type str cannot be used"):
        session.auth = "user:pw"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="auth of type list cannot be used"):
        run_blocking(lambda: session.get("/x", auth=["u", "p"]))  # type: ignore[arg-type]
    assert sink.samples == []


# --- response.request -------------------------------------------------------------------------


def test_response_request_shows_what_was_sent(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)
    session.headers["X-Session"] = "s"
    response = run_blocking(
        lambda: session.post("/echo?x=1", json={"a": 1}, headers={"X-Call": "c"})
    )
    request = response.request
    assert request is response.request  # built once
    assert request.method == "POST" and response.request_method == "POST"
    assert request.url == f"{server.url}/echo?x=1"
    assert request.path_url == "/echo?x=1"
    assert request.headers["x-session"] == "s" and request.headers["X-Call"] == "c"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b'{"a": 1}'
    plain = run_blocking(lambda: session.get("/echo"))
    assert plain.request.body is None and plain.request.method == "GET"


def test_response_request_after_redirects_and_without_a_response(
    server: Server, sink: Recorder
) -> None:
    session = HttpSession(server.url, request_sink=sink)
    moved = run_blocking(lambda: session.post("/redirect/303?to=/echo", data={"a": "b"}))
    assert moved.request.method == "GET" and moved.request.url == server.url + "/echo"
    assert moved.request.body is None and "Content-Type" not in moved.request.headers
    assert moved.history[0].request.method == "POST"
    assert moved.history[0].request.body == b"a=b"
    refused = HttpSession("http://127.0.0.1:9", request_sink=sink)
    failed = run_blocking(lambda: refused.delete("/gone"))
    assert failed.status_code == 0
    assert failed.request.method == "DELETE" and failed.request.url == "http://127.0.0.1:9/gone"


def test_response_request_of_caught_and_streamed_responses(server: Server, sink: Recorder) -> None:
    session = HttpSession(server.url, request_sink=sink)

    def task() -> tuple[str, str]:
        with session.get("/echo", catch_response=True) as caught:
            caught_method = caught.request.method
        streamed = session.get("/lines?n=3", stream=True)
        streamed_url = streamed.request.url
        streamed.close()
        return caught_method, streamed_url

    assert run_blocking(task) == ("GET", server.url + "/lines?n=3")
