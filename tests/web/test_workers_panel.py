"""The Workers tab in a real Chromium, against a real `--processes 2` web-mode run.

The CLI runs in a subprocess (two forked workers under the master) against a loopback
target; the page starts a test from its form, sees both workers carry users, edits the
user count and sees it split across them, loses a worker to SIGKILL and sees it marked
with its cause while the other takes its users, stops, starts again, and stops. A
one-process UI shows no Workers tab. Every wait is for a condition on the page, bounded;
the only processes ended are the ones this test started (and their worker, by its pid).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from browser_support import WAIT_MS, PageProblems, shot
from web_support import ui_server

pytestmark = pytest.mark.browser

TIMEOUT = 60  # seconds for the CLI process to end once asked
LOCUSTFILE = """
from locust import HttpUser, task, constant

class Index(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
"""
URL_LINE = re.compile(r"^web UI on http://127\.0\.0\.1:(\d+)$")


@contextmanager
def distributed_ui(cwd: Path, host: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`loadhopper --processes 2` in web mode on a free port; yields the process and URL."""
    (cwd / "locustfile.py").write_text(LOCUSTFILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(cwd)
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", "--processes", "2", "-P", "0", "-H", host],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = URL_LINE.match(first)
        assert match, f"expected the URL line, got {first!r}"
        yield process, f"http://127.0.0.1:{match.group(1)}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)


def _workers(page: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.evaluate(
        "() => Array.from(document.querySelectorAll('#workers-table tbody tr')).map((tr) => ({"
        " state: tr.dataset.state, cls: tr.className,"
        " users: tr.querySelector('td.users').textContent,"
        " pid: tr.children[2].textContent, note: tr.querySelector('td.note').textContent }))"
    )
    return rows


def _wait_users(page: Any, users: list[str]) -> None:
    page.wait_for_function(
        "(want) => JSON.stringify(Array.from("
        "document.querySelectorAll('#workers-table tbody td.users'), (td) => td.textContent))"
        " === JSON.stringify(want)",
        arg=users,
    )


def _wait_state(page: Any, state: str) -> None:
    page.wait_for_function("(s) => document.getElementById('m-state').textContent === s", arg=state)


def _gone(pid: int) -> bool:
    """True once `pid` no longer names a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_the_browser_drives_a_two_process_run_and_sees_its_workers(
    browser: Any, target: Any, tmp_path: Path
) -> None:
    with distributed_ui(tmp_path, target.url) as (process, url):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        # The workers start with the UI: both are listed, ready, before any test.
        assert page.is_visible("#tab-button-workers") and page.is_visible("#m-workers-box")
        page.click("button[data-tab=workers]")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('#workers-table tbody tr'))"
            ".filter((tr) => tr.dataset.state === 'ready').length === 2"
        )
        assert page.inner_text("#m-workers") == "2"
        pids = [int(row["pid"]) for row in _workers(page)]
        assert len(set(pids)) == 2 and process.pid not in pids
        shot(page, "workers-01-ready")

        page.fill("#f-users", "4")
        page.fill("#f-rate", "100")
        page.click("#btn-start")
        _wait_state(page, "RUNNING")
        _wait_users(page, ["2", "2"])
        assert [row["state"] for row in _workers(page)] == ["running", "running"]
        shot(page, "workers-02-running")

        page.click("#btn-edit")
        page.fill("#e-users", "6")
        page.click("#btn-edit-apply")
        _wait_users(page, ["3", "3"])
        page.wait_for_function("() => document.getElementById('m-users').textContent === '6'")

        # SIGKILL to the second worker (a child of the process this test started).
        os.kill(pids[1], signal.SIGKILL)
        page.wait_for_selector("#workers-table tbody tr.lost")
        lost = _workers(page)[1]
        assert lost["state"] == "lost" and "SIGKILL" in lost["note"], lost
        assert page.inner_text("#n-workers") == "(1 lost)"
        assert page.inner_text("#m-workers") == "1 of 2"
        _wait_users(page, ["6", "0"])  # its users were given to the other worker
        shot(page, "workers-03-lost")

        page.click("#btn-stop")
        _wait_state(page, "STOPPED")
        page.wait_for_function(
            "() => document.querySelector('#workers-table tbody tr').dataset.state === 'stopped'"
        )
        assert _workers(page)[1]["state"] == "lost"  # the lost one stays listed, with its cause

        page.click("#btn-new")
        page.fill("#f-users", "2")
        page.click("#btn-start")
        _wait_state(page, "RUNNING")
        _wait_users(page, ["2", "0"])
        page.click("#btn-stop")
        _wait_state(page, "STOPPED")
        assert problems.items == []
        context.close()

        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, err
        assert "was lost: killed by signal 9 (SIGKILL)" in err
    end = time.monotonic() + TIMEOUT
    while not _gone(pids[0]):  # the live worker quit with its master
        assert time.monotonic() < end, f"worker {pids[0]} outlived its master"
        time.sleep(0.05)


def test_a_one_process_ui_shows_no_workers_tab(browser: Any) -> None:
    with ui_server() as ui:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = PageProblems(page)
        page.goto(ui.url)
        page.wait_for_selector("body[data-ready=true]")
        assert page.is_hidden("#tab-button-workers") and page.is_hidden("#m-workers-box")
        assert problems.items == []
        page.close()
