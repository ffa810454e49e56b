"""A real `loadhopper` web-mode subprocess with a locustfile of the test's own, and a page on
its UI, for the tests of the class picker, custom options, Logs, Ratio, row charts,
distribution and extension parts (each run bounded by a timeout and a signal)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from browser_support import WAIT_MS, PageProblems

TIMEOUT = 60  # seconds: a process or a condition not done by then fails the test
URL_LINE = re.compile(r"^web UI on (http://127\.0\.0\.1:(\d+))$")


@contextmanager
def cli_ui(cwd: Path, locustfile: str, *args: str) -> Iterator[tuple[str, int]]:
    """`loadhopper -f locustfile.py -P 0 ARGS` in `cwd`; yields the UI's URL and port.

    Stopped with SIGINT (killed if it does not end in time); its stderr goes to the report.
    """
    (cwd / "locustfile.py").write_text(locustfile)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOADHOPPER_"))}
    env["HOME"] = str(cwd)
    process = subprocess.Popen(
        [sys.executable, "-m", "loadhopper", "-f", "locustfile.py", "-P", "0", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_lines: list[str] = []
    # Read stderr all along, so that a chatty run never blocks on a full pipe.
    reader = threading.Thread(target=lambda: stderr_lines.extend(process.stderr or []), daemon=True)
    reader.start()
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = URL_LINE.match(first)
        assert match, f"expected the URL line, got {first!r}: {''.join(stderr_lines)}"
        yield match.group(1), int(match.group(2))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=TIMEOUT)
        reader.join(TIMEOUT)
        print("".join(stderr_lines), file=sys.stderr)


def open_page(browser: Any, url: str) -> tuple[Any, Any, PageProblems]:
    """A page on the UI once its first `hello` has been applied: (context, page, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems = PageProblems(page)
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return context, page, problems
