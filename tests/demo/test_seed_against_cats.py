"""The seed article's whole system: its locustfile, byte for byte, run by loadhopper against
`loadhopper cats`, with and without its waits; the site's rows must match what the load did.

Short runs (a few seconds each) keep the suite quick; the README's 30-second runs use the
same command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadhopper.demo import start_cats_process

SEED = Path(__file__).resolve().parents[1] / "fixtures" / "seed_locustfile.py"
TIMEOUT = 120


def _no_wait_copy(folder: Path) -> Path:
    """The seed's locustfile with its wait removed (`constant(0)`), nothing else changed."""
    text = SEED.read_text()
    assert text.count("between(2, 5)") == 1
    text = text.replace("between(2, 5)", "constant(0)").replace(
        "from locust import HttpUser, SequentialTaskSet, task, between",
        "from locust import HttpUser, SequentialTaskSet, task, between, constant",
    )
    path = folder / "seed_no_wait.py"
    path.write_text(text)
    return path


def _successes(summary: dict[str, object], method: str, name: str) -> int:
    rows = summary["rows"]
    assert isinstance(rows, list)
    for row in rows:
        if row["method"] == method and row["name"] == name:
            return int(row["num_requests"]) - int(row["num_failures"])
    return 0


@pytest.mark.parametrize("wait", ["seed's own between(2, 5)", "constant(0)"])
def test_the_seed_locustfile_against_the_cats_site(tmp_path: Path, wait: str) -> None:
    locustfile = SEED if wait.startswith("seed") else _no_wait_copy(tmp_path)
    with start_cats_process(tmp_path / "cats.db") as site:
        before = site.count()
        done = subprocess.run(
            [
                sys.executable, "-m", "loadhopper", "-f", str(locustfile), "--headless",
                "-u", "50", "-r", "50", "-t", "5s", "--stop-timeout", "10",
                "-H", site.url + "/", "--json-file", str(tmp_path / "summary"), "--only-summary",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )  # fmt: skip
        after = site.count()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["aggregated"]["num_failures"] == 0
    assert summary["failures"] == [] and summary["exceptions"] == []
    created = _successes(summary, "POST", "/create")
    deleted = _successes(summary, "GET", "/[id]/delete")
    assert created > 0 and (deleted > 0 or wait.startswith("seed"))  # the sequence ran
    assert after - before == created - deleted
