"""The cats site's packages are the `demo` extra: a load test runs without them, and the
demo says how to get them.

The packages cannot be uninstalled for a test, so each run blocks them in a child interpreter:
a `None` in `sys.modules` makes `import apsw` raise `ModuleNotFoundError`, exactly as on a
machine where `pip install loadhopper` left them out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEMO_PACKAGES = ("apsw", "fasthtml", "fastlite")
TIMEOUT = 60

# Block the demo's packages, then run the command line with the arguments that follow.
_RUNNER = (
    "import sys\n"
    f"for name in {DEMO_PACKAGES!r}: sys.modules[name] = None\n"
    "from loadhopper.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "assert not any(sys.modules.get(name) for name in "
    f"{DEMO_PACKAGES!r}), 'a demo package was imported'\n"
    "sys.exit(code)\n"
)

LOCUSTFILE = """
from locust import HttpUser, task, constant

class Simple(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def test_demo_without_its_extra_says_how_to_install_it(tmp_path: Path) -> None:
    for command in ("demo", "cats"):
        result = _run(tmp_path, command)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "pip install 'loadhopper[demo]'" in lines[0]
        assert "Traceback" not in result.stderr


def test_a_load_test_needs_none_of_the_demo_packages(tmp_path: Path, target: object) -> None:
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    url = target.url  # type: ignore[attr-defined]
    result = _run(
        tmp_path, "--headless", "-u", "2", "-r", "2", "-t", "1s", "-H", url, "--json-file", "out"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out.json").read_text())
    assert summary["aggregated"]["num_requests"] > 0, summary
