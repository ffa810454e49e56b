"""The locustfile's own options in the start form, in the real headless Chromium.

The locustfile adds options with `init_command_line_parser`; the form shows them as Locust
does (a password field for `is_secret`, `required` for `is_required`, a select for
`choices`, a checkbox for a flag), and each user names its request after the values it finds
in `environment.parsed_options`, so the statistics table shows what reached the test.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import cli_ui, open_page
from web_support import Client, csrf_token

from loadhopper._exceptions import ConfigError
from loadhopper.cli._parser import LocustArgumentParser
from loadhopper.web._forms import custom_options, resolve_options
from loadhopper.web._parameters import OptionKind

LOCUSTFILE = """
from locust import HttpUser, task, constant, events


@events.init_command_line_parser.add_listener
def add_options(parser):
    parser.add_argument("--greeting", default="hello", help="Said in every request name.")
    parser.add_argument("--api-token", is_secret=True, default="cli-secret")
    parser.add_argument("--tenant", is_required=True, default="")
    parser.add_argument("--flavour", choices=["vanilla", "mint"], default="vanilla")
    parser.add_argument("--loud", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--internal", include_in_web_ui=False, default="x")


class Greeter(HttpUser):
    wait_time = constant(0.1)

    @task
    def greet(self):
        o = self.environment.parsed_options
        secret = "secret-kept" if o.api_token == "cli-secret" else "secret-changed"
        name = f"{o.greeting}|{o.tenant}|{o.flavour}|{o.loud}|{o.repeat * 2}|{secret}"
        self.client.get("/", name=name)
"""


@pytest.mark.browser
def test_custom_options_reach_parsed_options(browser: Any, target: Any, tmp_path: Path) -> None:
    with cli_ui(tmp_path, LOCUSTFILE, "-H", target.url, "--repeat", "2") as (url, port):
        _, page, problems = open_page(browser, url)
        form = "#f-options"
        assert page.is_visible(form)
        assert page.locator(f"{form} [data-dest]").count() == 6  # --internal is not shown
        assert page.locator(f"{form} input[type=password][name=api_token]").input_value() == ""
        assert page.locator(f"{form} input[name=tenant][required]").count() == 1
        assert page.locator(f"{form} select[name=flavour] option").all_text_contents() == [
            "vanilla",
            "mint",
        ]
        assert page.locator(f"{form} input[type=checkbox][name=loud]").count() == 1
        assert page.locator(f"{form} input[name=repeat]").input_value() == "2"  # from -- repeat
        # A required field left empty stops the form in the browser.
        assert page.evaluate("() => document.getElementById('start-form').checkValidity()") is False
        page.fill(f"{form} input[name=greeting]", "bonjour")
        page.fill(f"{form} input[name=tenant]", "acme")
        page.select_option(f"{form} select[name=flavour]", "mint")
        page.check(f"{form} input[name=loud]")
        page.fill(f"{form} input[name=repeat]", "21")
        page.fill("#f-users", "1")
        page.fill("#f-rate", "10")
        shot(page, "uia-02-custom-options")
        page.click("#btn-start")
        expected = "bonjour|acme|mint|True|42|secret-kept"
        page.wait_for_function(
            "(name) => Array.from(document.querySelectorAll('#stats-table tbody td.name'))"
            ".some((td) => td.textContent === name)",
            arg=expected,
        )
        names = [row["name"] for row in Client(port).state()["stats"]["rows"]]
        assert names == [expected]
        assert problems.items == []
        page.close()


def test_the_forms_options_reach_every_worker(target: Any, tmp_path: Path) -> None:
    # --processes 2: the values set through /api/start travel with the master's start message,
    # so both workers' users name their requests after them (a worker that kept the command
    # line's values would add a second row).
    args = ("-H", target.url, "--repeat", "2", "--processes", "2")
    with cli_ui(tmp_path, LOCUSTFILE, *args) as (_url, port):
        client = Client(port, token=csrf_token(port))
        form = {
            "users": 4,
            "spawn_rate": 100,
            "options": {"greeting": "bonjour", "tenant": "acme", "flavour": "mint"},
        }
        reply = client.post("/api/start", form)
        assert reply.status == 200, reply.text
        expected = "bonjour|acme|mint|False|4|secret-kept"
        state = client.wait_for(
            lambda s: s["stats"]["total"]["num_requests"] >= 20, "requests from both workers"
        )
        assert [row["name"] for row in state["stats"]["rows"]] == [expected]
        workers = state["workers"]["workers"]
        assert [w["user_count"] for w in workers] == [2, 2]  # both ran users, with those values


def _parser() -> LocustArgumentParser:
    parser = LocustArgumentParser()
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--mode", choices=["a", "b"], default="a", is_multiple=True)
    parser.add_argument("--token", is_secret=True, is_required=True)
    parser.add_argument("--dry", action="store_true")
    return parser


def test_options_are_described_and_converted() -> None:
    parser = _parser()
    values = parser.parse_args([])
    options = custom_options(parser._actions, values)
    kinds = {o.dest: o.kind for o in options}
    assert kinds == {
        "count": OptionKind.TEXT,
        "mode": OptionKind.CHOICE,
        "token": OptionKind.SECRET,
        "dry": OptionKind.FLAG,
    }
    resolved = resolve_options(
        [("count", "7"), ("mode", ("a", "b")), ("token", "t"), ("dry", True)], options
    )
    assert resolved == {"count": 7, "mode": ["a", "b"], "token": "t", "dry": True}
    with pytest.raises(ConfigError, match="--count cannot take 'many'"):
        resolve_options([("count", "many"), ("token", "t")], options)
    with pytest.raises(ConfigError, match="--mode must be one of a, b"):
        resolve_options([("mode", ("c",)), ("token", "t")], options)
    with pytest.raises(ConfigError, match="--token is required"):
        resolve_options([("token", "")], options)
    with pytest.raises(ConfigError, match="--token is required"):
        resolve_options([], options)
    with pytest.raises(ConfigError, match="unknown option 'nope'"):
        resolve_options([("nope", "1"), ("token", "t")], options)
    assert isinstance(values, argparse.Namespace)
