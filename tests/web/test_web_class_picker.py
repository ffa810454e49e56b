"""The class picker (`--class-picker`) in the real headless Chromium, on a real `loadhopper`.

Locust shows its picker only with `--class-picker`; here choosing which classes run needs no
flag (the form has always offered it), and the flag adds each class's weight and fixed count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import cli_ui, open_page
from web_support import Client, csrf_token

from loadhopper._exceptions import ConfigError
from loadhopper.web._forms import check_class_settings, parse_start_form
from loadhopper.web._parameters import ClassSetting

LOCUSTFILE = """
from locust import HttpUser, task, constant

class Reader(HttpUser):
    wait_time = constant(0.2)

    @task
    def read(self):
        self.client.get("/", name="read")


class Writer(HttpUser):
    wait_time = constant(0.2)

    @task
    def write(self):
        self.client.get("/", name="write")


class Admin(HttpUser):
    wait_time = constant(0.2)

    @task
    def admin(self):
        self.client.get("/", name="admin")
"""


@pytest.mark.browser
def test_the_picker_sets_which_classes_run_and_their_shares(
    browser: Any, target: Any, tmp_path: Path
) -> None:
    with cli_ui(tmp_path, LOCUSTFILE, "--class-picker", "-H", target.url) as (url, port):
        _, page, problems = open_page(browser, url)
        assert page.locator("#f-classes .cp-row").count() == 3
        assert page.locator("#f-classes .cp-weight").count() == 3
        page.fill("#f-users", "5")
        page.fill("#f-rate", "100")
        page.uncheck("#f-classes .cp-row[data-name=Admin] input.cp-run")
        page.fill("#f-classes .cp-row[data-name=Reader] .cp-weight", "3")
        page.fill("#f-classes .cp-row[data-name=Writer] .cp-fixed", "1")
        shot(page, "uia-01-class-picker")
        page.click("#btn-start")
        client = Client(port)
        # Writer's fixed count comes first, the rest go to the only other chosen class.
        state = client.wait_for(lambda s: s["status"]["user_count"] == 5, "five users running")
        assert state["class_counts"] == {"Reader": 4, "Writer": 1, "Admin": 0}
        page.click("#btn-stop")
        client.wait_for(lambda s: not s["status"]["running"], "the test to stop")
        # The classes keep the picker's settings for the next test, as in Locust.
        settings = {s["name"]: s for s in client.state()["class_settings"]}
        assert settings["Reader"]["weight"] == 3 and settings["Writer"]["fixed_count"] == 1
        # Every chosen class without a user is refused, in one sentence, before anything runs.
        refused = Client(port, token=csrf_token(port)).post(
            "/api/start",
            {
                "users": 2,
                "spawn_rate": 10,
                "user_classes": ["Admin"],
                "class_settings": {"Admin": {"weight": 0, "fixed_count": 0}},
            },
        )
        assert refused.status == 400
        assert "weight 0 and fixed count 0" in refused.json()["error"]
        assert problems.items == []
        page.close()


@pytest.mark.browser
def test_without_the_flag_the_form_only_chooses_classes(
    browser: Any, target: Any, tmp_path: Path
) -> None:
    with cli_ui(tmp_path, LOCUSTFILE, "-H", target.url) as (url, port):
        _, page, problems = open_page(browser, url)
        assert page.locator("#f-classes input.cp-run").count() == 3
        assert page.locator("#f-classes .cp-weight").count() == 0
        page.fill("#f-users", "2")
        page.fill("#f-rate", "100")
        page.uncheck("#f-classes input.cp-run[value=Reader]")
        page.uncheck("#f-classes input.cp-run[value=Admin]")
        page.click("#btn-start")
        state = Client(port).wait_for(lambda s: s["status"]["user_count"] == 2, "two users")
        assert state["class_counts"] == {"Reader": 0, "Writer": 2, "Admin": 0}
        assert state["class_picker"] is False
        assert problems.items == []
        page.close()


def test_class_settings_are_validated() -> None:
    form = {"users": 1, "spawn_rate": 1, "class_settings": {"A": {"weight": "2"}}}
    assert parse_start_form(form).class_settings == (("A", ClassSetting(2, 0)),)
    with pytest.raises(ConfigError, match="The weight of A must be a whole number"):
        parse_start_form({"users": 1, "spawn_rate": 1, "class_settings": {"A": {"weight": -1}}})
    with pytest.raises(ConfigError, match="Unknown User class 'Nope'"):
        check_class_settings([("Nope", ClassSetting(1, 0))], [], [])
