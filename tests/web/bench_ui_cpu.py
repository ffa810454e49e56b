"""Benchmark: the CPU an open UI tab costs a run, against the same run headless.

Not a test (no timing belongs in a test): run it by hand,
`.venv/bin/python tests/web/bench_ui_cpu.py [seconds]`. Both runs offer the same load
(`constant_throughput`, so the request count is the same whatever the CPU), against the
same loopback target; the web run has a headless Chromium tab open on the UI, on the Charts
tab, for the whole test. The loadhopper process's CPU (user + system, from wait4) is compared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from web_support import target_server

USERS = 20
PER_USER_RPS = 10  # 200 requests/s in all
LOCUSTFILE = f"""
from locust import HttpUser, task, constant_throughput

class Steady(HttpUser):
    wait_time = constant_throughput({PER_USER_RPS})

    @task
    def index(self):
        self.client.get("/")
"""


def _run(cwd: Path, args: list[str], on_url: object = None) -> tuple[float, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    out: list[str] = []
    if on_url is not None:
        first = process.stdout.readline()
        match = re.match(r"web UI on (\S+)", first)
        assert match, first
        threading.Thread(target=on_url, args=(match.group(1),), daemon=True).start()  # type: ignore[arg-type]
    out.append(process.stdout.read())
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, "".join(out)


def _open_tab(url: str, stop: threading.Event) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(url)
        page.click("button[data-tab=charts]")
        stop.wait(600)
        browser.close()


def _requests(output: str) -> int:
    match = re.search(r"^\s+Aggregated\s+(\d+)", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def main(seconds: float) -> None:
    with target_server() as target, tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "locustfile.py").write_text(LOCUSTFILE)
        load = ["-H", target.url, "-u", str(USERS), "-r", "1000", "-t", f"{seconds}s"]
        headless_cpu, headless_out = _run(cwd, ["--headless", "--only-summary", *load])
        stop = threading.Event()
        web_cpu, web_out = _run(
            cwd,
            ["--autostart", "--autoquit", "0", "-P", "0", *load],
            on_url=lambda url: _open_tab(url, stop),
        )
        stop.set()
    extra = web_cpu - headless_cpu
    print(
        f"UI tab open for {seconds:g}s at {USERS * PER_USER_RPS} req/s: loadhopper CPU "
        f"{web_cpu:.2f}s with the UI ({_requests(web_out)} requests) vs {headless_cpu:.2f}s "
        f"headless ({_requests(headless_out)} requests): +{extra:.2f}s, "
        f"{100 * extra / seconds:.2f}% of one core, {100 * extra / headless_cpu:+.1f}% vs headless"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
