"""The web UI's extension point: the `web_ui` that `events.init` listeners receive.

The locustfile is shaped like Locust's `examples/extend_web_ui.py`: it counts response bytes
per request name from `events.request`, and in `events.init` (when `environment.web_ui` is
set) adds a JSON route, a CSV route and a tab through `web_ui.app.route` and
`web_ui.add_tab`. The UI runs as in web mode (`WebController` + `create_app` + `WebServer`
on uvloop, in a thread), with `events.init` fired the way the command line fires it.
Screenshot: artifacts/web/extension-01-tab.png.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvloop
from browser_support import shot
from cli_ui_support import TIMEOUT, cli_ui, open_page
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from web_support import Client

from loadhopper import events
from loadhopper._exceptions import ConfigError
from loadhopper.runtime import Environment
from loadhopper.runtime._loader import load_locustfile
from loadhopper.web import WebController, WebServer, create_app
from loadhopper.web._extension import WebExtensions, _response, starlette_path

TOKEN = "extension-test-token"

LOCUSTFILE = """
from locust import HttpUser, TaskSet, constant, events, task


class MyTaskSet(TaskSet):
    @task(2)
    def index(self):
        self.client.get("/")

    @task(1)
    def missing(self):
        self.client.get("/fail")


class WebsiteUser(HttpUser):
    wait_time = constant(0.05)
    tasks = [MyTaskSet]


stats = {}


@events.init.add_listener
def locust_init(environment, **kwargs):
    if environment.web_ui:

        @environment.web_ui.app.route("/content-length")
        def content_length():
            return [{"name": name, "content_length": s["content-length"]}
                    for name, s in sorted(stats.items())]

        @environment.web_ui.app.route("/content-length/csv")
        def content_length_csv():
            rows = ['"Name","Total content-length"']
            rows += [f'"{name}",{s["content-length"]}' for name, s in sorted(stats.items())]
            return "\\n".join(rows), 200, {"Content-Type": "text/csv"}

        @environment.web_ui.app.route("/hello/<name>/<int:times>")
        def hello(name, times):
            return {"hello": [name] * times}

        @environment.web_ui.app.route("/note", methods=["POST"])
        def note():
            return "noted", 201

        environment.web_ui.add_tab("Content Length", "/content-length")
        environment.web_ui.template_args["extended_csv_files"] = [
            {"href": "/content-length/csv", "title": "Download content length statistics CSV"}
        ]


@events.request.add_listener
def on_request(name, response_length, **kwargs):
    stats.setdefault(name, {"content-length": 0})
    stats[name]["content-length"] += response_length
"""


@contextmanager
def extended_ui(tmp_path: Path) -> Iterator[int]:
    """The UI for LOCUSTFILE, with its init listener run as web mode runs it."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    module = load_locustfile(str(tmp_path / "locustfile.py"))
    listeners = (module.module.locust_init, module.module.on_request)
    env = Environment(user_classes=list(module.user_classes), events=events)
    controller = WebController(env, locustfile="locustfile.py")
    web_ui = WebExtensions(env)
    env.web_ui = web_ui
    events.init.fire(environment=env, runner=controller.runner, web_ui=web_ui)
    server = WebServer(create_app(controller, csrf_token=TOKEN, extensions=web_ui), "127.0.0.1", 0)
    port = server.bind()
    loop = uvloop.new_event_loop()
    started = threading.Event()

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        await server.wait_started()
        started.set()
        await task

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert started.wait(TIMEOUT)
        yield port
    finally:

        async def shutdown() -> None:
            controller.stop()
            await controller.wait()
            server.shutdown()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(TIMEOUT)
        thread.join(TIMEOUT)
        loop.close()
        events.init.remove_listener(listeners[0])  # the hooks are the process's own
        events.request.remove_listener(listeners[1])


def test_flask_rules_become_starlette_paths() -> None:
    assert starlette_path("/a/<name>/<int:n>/<path:rest>") == "/a/{name}/{n:int}/{rest:path}"
    with pytest.raises(ConfigError, match="converter 'uuid'"):
        starlette_path("/a/<uuid:id>")


def test_handlers_answer_as_flask_would() -> None:
    assert _response("<b>hi</b>").headers["content-type"].startswith("text/html")
    assert _response({"a": 1}).body == b'{"a":1}'
    csv = _response(("x,y", 202, {"Content-Type": "text/csv"}))
    assert csv.status_code == 202 and csv.headers["content-type"] == "text/csv"
    assert _response(([1], {"X-Extra": "1"})).headers["x-extra"] == "1"
    assert _response((PlainTextResponse("gone"), 410)).status_code == 410
    with pytest.raises(TypeError, match="returned NoneType"):
        _response(None)


def test_the_uis_own_paths_are_refused() -> None:
    web_ui = WebExtensions(Environment(user_classes=[]))
    for path in ("/", "/api/state", "/static/app.js", "/download/stats.csv", "/metrics"):
        with pytest.raises(ConfigError, match="web UI itself serves"):
            web_ui.app.route(path)(lambda: "x")
    with pytest.raises(ConfigError, match="needs a title"):
        web_ui.add_tab(" ", "/x")

    async def raw(request: Request) -> Response:
        return PlainTextResponse(request.url.path)

    web_ui.app.add_route("/raw", raw)
    assert [getattr(r, "path", None) for r in web_ui.app.routes] == ["/raw"]


def test_extension_routes_answer_behind_the_guard(tmp_path: Path) -> None:
    with extended_ui(tmp_path) as port:
        client = Client(port, token=TOKEN)
        assert client.get("/hello/cat/2").json() == {"hello": ["cat", "cat"]}
        assert client.get("/hello/cat/two").status == 404  # the int converter refuses it
        csv = client.get("/content-length/csv")
        assert csv.status == 200 and csv.headers["content-type"] == "text/csv"
        assert csv.text == '"Name","Total content-length"'
        assert client.post("/note").status == 201
        assert Client(port).post("/note").status == 403  # no CSRF token: the guard refuses
        page = client.get("/api/extensions").json()
        assert page["tabs"] == [{"title": "Content Length", "url": "content-length"}]
        assert page["links"][0]["url"] == "content-length/csv"
        # The UI's own routes still win and still answer.
        assert client.get("/api/state").status == 200


def test_the_command_line_hands_init_listeners_the_web_ui(tmp_path: Path) -> None:
    # The real `loadhopper` web mode: `events.init` gets `web_ui`, and the route answers.
    with cli_ui(tmp_path, LOCUSTFILE) as (_url, port):
        client = Client(port)
        assert client.get("/hello/cat/3").json() == {"hello": ["cat", "cat", "cat"]}
        assert client.get("/api/extensions").json()["tabs"] == [
            {"title": "Content Length", "url": "content-length"}
        ]


@pytest.mark.browser
def test_the_extension_tab_shows_its_route(tmp_path: Path, browser: Any, target: Any) -> None:
    with extended_ui(tmp_path) as port:
        context, page, problems = open_page(browser, f"http://127.0.0.1:{port}")
        tab = page.locator(".tabs button[data-extension]")
        assert tab.count() == 1 and tab.inner_text() == "Content Length"
        link = page.locator("#downloads a[href='content-length/csv']")
        assert link.inner_text() == "Download content length statistics CSV"
        page.fill("#f-users", "2")
        page.fill("#f-rate", "10")
        page.fill("#f-host", target.url)
        page.click("#btn-start")
        page.wait_for_function("() => document.getElementById('m-state').textContent"
                               " === 'RUNNING'")  # fmt: skip
        tab.click()
        assert page.is_hidden("#tab-stats") and page.is_visible("#tab-ext-0")
        # The table fills in as requests come back: /fail's 500 pages have bodies too.
        page.wait_for_function(
            "() => document.querySelectorAll('#tab-ext-0 tbody tr').length === 2",
            timeout=TIMEOUT * 1000,
        )
        assert page.locator("#tab-ext-0 thead th").all_inner_texts() == ["name", "content_length"]
        names = page.locator("#tab-ext-0 tbody td:first-child").all_inner_texts()
        assert names == ["/", "/fail"]
        shot(page, "extension-01-tab")
        # Back to a built-in tab: the extension's section hides.
        page.click("button[data-tab=stats]")
        assert page.is_hidden("#tab-ext-0") and page.is_visible("#tab-stats")
        assert problems.items == []
        context.close()
