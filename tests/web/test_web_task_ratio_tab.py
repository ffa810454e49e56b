"""The Ratio tab (Locust's /tasks view) in Debian's headless Chromium, on a real web-mode run.

The locustfile nests a TaskSet and weights its classes 3:1, so the per-class and total
ratios differ at every level. Screenshot: artifacts/web/ratio-01-tab.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import shot
from cli_ui_support import cli_ui, open_page
from web_support import Client

from loadhopper.runtime import Environment, Events
from loadhopper.runtime._loader import load_locustfile
from loadhopper.runtime._task_ratio import task_ratios

LOCUSTFILE = """
from locust import HttpUser, TaskSet, constant, task


class Browse(TaskSet):
    @task(3)
    def items(self):
        self.client.get("/")

    @task(1)
    def cart(self):
        self.client.get("/")


def home(user):
    user.client.get("/")


class Shopper(HttpUser):
    weight = 3
    wait_time = constant(1)
    tasks = {Browse: 3, home: 1}


class Admin(HttpUser):
    weight = 1
    wait_time = constant(1)

    @task
    def audit(self):
        self.client.get("/fail")
"""

# (depth, ratio text, name), as the tables list them, depth first. Per class, a TaskSet's
# tasks are shares of that TaskSet (Locust's /tasks); in total, shares of all tasks run.
PER_CLASS = [
    (0, "75.0 %", "Shopper"),
    (1, "75.0 %", "Browse"),
    (2, "75.0 %", "items"),
    (2, "25.0 %", "cart"),
    (1, "25.0 %", "home"),
    (0, "25.0 %", "Admin"),
    (1, "100.0 %", "audit"),
]
TOTAL = [
    (0, "75.0 %", "Shopper"),
    (1, "56.3 %", "Browse"),
    (2, "42.2 %", "items"),
    (2, "14.1 %", "cart"),
    (1, "18.8 %", "home"),
    (0, "25.0 %", "Admin"),
    (1, "25.0 %", "audit"),
]

READ_TABLE = """(id) => Array.from(document.querySelectorAll('#' + id + ' tbody tr')).map((tr) =>
    [Number(tr.dataset.depth), tr.cells[0].textContent, tr.cells[1].textContent])"""


def test_the_shared_ratios_are_those_the_cli_prints(tmp_path: Path) -> None:
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    locustfile = load_locustfile(str(tmp_path / "locustfile.py"))
    env = Environment(user_classes=list(locustfile.user_classes), events=Events())
    ratios = task_ratios(env)
    shopper = ratios["total"]["Shopper"]
    assert shopper["ratio"] == 0.75
    assert shopper["tasks"]["Browse"]["tasks"]["items"]["ratio"] == pytest.approx(0.421875)
    per_class = ratios["per_class"]["Shopper"]["tasks"]
    assert per_class["home"]["ratio"] == 0.25
    # As Locust's /tasks: within a class, a TaskSet's tasks are shares of that TaskSet.
    assert per_class["Browse"]["tasks"]["items"]["ratio"] == 0.75


@pytest.mark.browser
def test_the_ratio_tab_shows_the_locustfiles_ratios(tmp_path: Path, browser: Any) -> None:
    with cli_ui(tmp_path, LOCUSTFILE) as (url, port):
        answer = Client(port).get("/api/tasks")
        assert answer.status == 200
        assert set(answer.json()) == {"per_class", "total"}
        context, page, problems = open_page(browser, url)
        page.click("button[data-tab=ratio]")
        page.wait_for_selector("#tab-ratio[data-loaded=true]")
        assert page.is_visible("#ratio-total")
        assert page.evaluate(READ_TABLE, "ratio-per-class") == [list(r) for r in PER_CLASS]
        assert page.evaluate(READ_TABLE, "ratio-total") == [list(r) for r in TOTAL]
        assert page.inner_text("#ratio-per-class h3") == "Per User class"
        shot(page, "ratio-01-tab")
        # Another tab hides it again (app.js's tab switching covers the new tab too).
        page.click("button[data-tab=stats]")
        assert page.is_hidden("#tab-ratio")
        assert problems.items == []
        context.close()
