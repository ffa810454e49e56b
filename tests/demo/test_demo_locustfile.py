"""The demo locustfile: the seed's structure, and it runs under Locust itself with no failure."""

import ast
import csv
import shutil
import subprocess
import sys
from pathlib import Path

from loadhopper.demo import LOCUSTFILE, start_cats_process

SEED = Path(__file__).parents[1] / "fixtures" / "seed_locustfile.py"
# Locust is a dev dependency (pyproject: the demo must run under it too); a missing one is a
# failure here, never a skip.
LOCUST = Path(sys.executable).with_name("locust")


def _shape(path: Path) -> dict[str, object]:
    """The parts a reader compares side by side: classes, bases, task order, tasks, wait."""
    tree = ast.parse(path.read_text())
    shape: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            shape[node.name] = [ast.unparse(base) for base in node.bases]
            shape[node.name + ".tasks"] = [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef)
                and any(ast.unparse(d) == "task" for d in item.decorator_list)
            ]
            for item in node.body:
                if isinstance(item, ast.Assign) and ast.unparse(item.targets[0]) in (
                    "tasks",
                    "wait_time",
                ):
                    shape[f"{node.name}.{ast.unparse(item.targets[0])}"] = ast.unparse(item.value)
        if isinstance(node, ast.ImportFrom) and node.module == "locust":
            shape["from locust import"] = sorted(alias.name for alias in node.names)
    return shape


def test_the_demo_keeps_the_seed_structure() -> None:
    demo, seed = _shape(LOCUSTFILE), _shape(SEED)
    assert demo == seed
    assert demo["TaskSet.tasks"] == ["index", "create", "update", "delete"]
    assert demo["CatsiteUser.wait_time"] == "between(2, 5)"


def _run_locust(
    locustfile: Path, url: str, users: int, seconds: int, csv_prefix: Path, *classes: str
) -> dict[str, dict[str, str]]:
    assert LOCUST.exists(), f"{LOCUST} is missing: install the dev extras (pip install -e .[dev])"
    load = ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "-H", url]
    outputs = ["--csv", str(csv_prefix), "--only-summary"]
    done = subprocess.run(
        [str(LOCUST), "-f", str(locustfile), "--headless", *load, *outputs, *classes],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with open(f"{csv_prefix}_stats.csv", newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def test_the_demo_runs_under_locust_unchanged(tmp_path: Path) -> None:
    with start_cats_process(tmp_path / "cats.db") as site:
        rows = _run_locust(LOCUSTFILE, site.url, 20, 5, tmp_path / "run")
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 0
    assert total["Failure Count"] == "0"
    assert int(rows["/create"]["Request Count"]) > 0


def test_the_demo_without_waits_under_locust_has_no_failure_and_leaks_no_cat(
    tmp_path: Path,
) -> None:
    # Locust puts the locustfile's directory on sys.path, so the wrapper imports the demo.
    shutil.copy(LOCUSTFILE, tmp_path / "cats_demo.py")
    wrapper = tmp_path / "no_wait.py"
    wrapper.write_text(
        "from locust import constant\n"
        "from cats_demo import CatsiteUser\n\n"
        "class NoWaitUser(CatsiteUser):\n"
        "    wait_time = constant(0)\n"
    )
    users = 50
    with start_cats_process(tmp_path / "cats.db") as site:
        rows = _run_locust(wrapper, site.url, users, 3, tmp_path / "run", "NoWaitUser")
        remaining = site.count()
    for name in ("/", "/create", "/[id]/update", "/[id]/delete"):
        assert int(rows[name]["Request Count"]) > 0, name
    assert rows["Aggregated"]["Failure Count"] == "0"
    # Each user deletes the cat it created before it creates the next, so however the run
    # was cut short, no user holds more than one.
    assert remaining <= users
