"""A real run freezes its young survivors while it runs (runtime/_gc_guard.py, "Between
slices"), not only while users start: without the ticks the permanent generation only shrinks
once the ramp is over, since nothing more is frozen."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT = 60

LOCUSTFILE = """
import gc
from locust import HttpUser, task, constant, events

seen = []


@events.spawning_complete.add_listener
def ramped(**kwargs):
    seen.append(("ramped", gc.get_freeze_count()))


class Sampler(HttpUser):
    wait_time = constant(0.05)

    @task
    def index(self):
        self.client.get("/")
        if seen and seen[0][0] == "ramped":
            seen.append(("after", gc.get_freeze_count()))


@events.quitting.add_listener
def report(environment, **kwargs):
    after = [count for what, count in seen if what == "after"]
    ramped = seen[0][1] if seen else None
    rises = sum(1 for a, b in zip(after, after[1:]) if b > a)
    print("FREEZES", ramped, rises, len(after), flush=True)
"""


def test_a_running_test_keeps_freezing_its_survivors(tmp_path: Path, target: Any) -> None:
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    result = subprocess.run(
        [sys.executable, "-m", "loadhopper", "--headless", "-u", "2", "-r", "10", "-t", "2s",
         "-H", target.url, "--only-summary", "--json-file", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("FREEZES"))
    _, ramped, rises, samples = line.split()
    assert int(ramped) > 0 and int(samples) > 10, line  # the ramp froze what it built
    # Ticks every 0.1 s freeze what survived since the last: the count rises again and again
    # after the ramp (it would only fall without them).
    assert int(rises) >= 3, line
    assert json.loads((tmp_path / "out.json").read_text())["aggregated"]["num_failures"] == 0
