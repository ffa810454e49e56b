"""The request guard, against the real app on uvicorn: CSRF, login, body limit, Host check,
security headers and the absence of CORS headers."""

from __future__ import annotations

import pytest
from web_support import Client, basic, ui_server

from loadhopper.web import WebLogin

GET_ROUTES = [
    "/",
    "/static/app.js",
    "/static/app.css",
    "/static/plotly.min.js",
    "/api/state",
    "/download/stats.csv",
    "/download/stats_history.csv",
    "/download/failures.csv",
    "/download/exceptions.csv",
    "/download/summary.json",
    "/download/report.html",
]
POST_ROUTES = ["/api/start", "/api/edit", "/api/stop", "/api/reset"]


def test_every_post_needs_the_csrf_token() -> None:
    with ui_server() as ui:
        for token in (None, "", "wrong-token", ui.csrf_token + "x"):
            client = Client(ui.port, token=token)
            for path in POST_ROUTES:
                reply = client.post(path, {"users": 1, "spawn_rate": 1})
                assert reply.status == 403, (path, token)
                assert "CSRF token" in reply.text
        assert Client(ui.port).state()["status"]["tests_started"] == 0


def test_the_page_carries_the_token_and_state_changes_are_never_gets() -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        page = client.get("/")
        assert f'<meta name="csrf-token" content="{ui.csrf_token}">' in page.text
        for path in POST_ROUTES:
            assert client.get(path).status == 405


def test_login_protects_every_route() -> None:
    login = WebLogin("admin", "s3cret")
    with ui_server(login=login) as ui:
        for auth in (None, basic("admin", "wrong"), basic("other", "s3cret")):
            client = Client(ui.port, auth=auth, token=ui.csrf_token)
            for path in [*GET_ROUTES, "/api/stream", "/nowhere"]:
                reply = client.get(path)
                assert reply.status == 401, path
                assert reply.headers["www-authenticate"].startswith('Basic realm="loadhopper"')
            for path in POST_ROUTES:
                assert client.post(path, {"users": 1, "spawn_rate": 1}).status == 401, path
        good = Client(ui.port, auth=basic("admin", "s3cret"), token=ui.csrf_token)
        assert good.get("/").status == 200
        assert good.get("/download/stats.csv").status == 200
        with good.events() as events:
            name, data = next(events)
        assert name == "hello" and "status" in data
        assert good.post("/api/reset").status == 200


def test_a_body_over_the_limit_is_refused() -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        big = {"users": 1, "spawn_rate": 1, "host": "http://a/" + "x" * 20_000}
        assert client.post("/api/start", big).status == 413
        # Without a Content-Length (chunked), the limit holds while reading.
        chunked = client.request(
            "POST",
            "/api/start",
            body=iter([b'{"users": 1, ', b" " * 17_000, b'"spawn_rate": 1}']),  # type: ignore[arg-type]
            headers={"Content-Type": "application/json", "x-csrf-token": ui.csrf_token},
        )
        assert chunked.status == 413
        assert client.state()["status"]["tests_started"] == 0


def test_forms_must_be_json() -> None:
    with ui_server() as ui:
        client = Client(ui.port, token=ui.csrf_token)
        reply = client.post(
            "/api/stop", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert reply.status == 415
        bad = client.request(
            "POST", "/api/start", b"{not json",
            {"Content-Type": "application/json", "x-csrf-token": ui.csrf_token},
        )  # fmt: skip
        assert bad.status == 400 and "not valid JSON" in bad.json()["error"]


def test_host_header_must_be_allowed() -> None:
    with ui_server(allowed_hosts=("127.0.0.1", "localhost", "[::1]")) as ui:
        client = Client(ui.port)
        assert client.get("/").status == 200
        assert client.get("/", headers={"Host": f"localhost:{ui.port}"}).status == 200
        rebound = client.get("/", headers={"Host": f"attacker.example:{ui.port}"})
        assert rebound.status == 400
        assert "host name is not allowed" in rebound.text


@pytest.mark.parametrize("path", ["/", "/api/state", "/static/app.js", "/download/stats.csv"])
def test_security_headers_and_no_cors(path: str) -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        reply = client.get(path, headers={"Origin": "http://evil.example"})
        assert reply.status == 200
        csp = reply.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self';" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["x-frame-options"] == "DENY"
        assert not [name for name in reply.headers if name.startswith("access-control-")]
        preflight = client.request(
            "OPTIONS",
            "/api/start",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status in (403, 405)
        assert not [name for name in preflight.headers if name.startswith("access-control-")]


def test_the_page_has_no_inline_script_and_no_cdn() -> None:
    with ui_server() as ui:
        client = Client(ui.port)
        page = client.get("/").text
        assert "<script>" not in page and "onclick" not in page
        assert "http://" not in page.replace("http://127.0.0.1:8000", "")
        assert "https://" not in page
        plotly = client.get("/static/plotly.min.js")
        assert plotly.headers["content-type"].startswith("text/javascript")
        assert b"plotly" in plotly.body[:2000].lower()
