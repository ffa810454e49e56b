"""`loadhopper compare` and `--baseline` end to end: two real headless runs against a loopback
target, the second one slower (its requests go to a route that answers after 30 ms), their
JSON summaries compared by the real CLI, and the HTML page opened in the real Chromium.

Every run is bounded by `-t` and a timeout on the subprocess (`run_cli`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_target import serve
from test_main_e2e import run_cli, write

# The browser tests' own launcher and artefacts folder (tests/ folders are not packages).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from browser_support import WAIT_MS, PageProblems, chromium, shot

# One row name for both runs, so that they compare row by row; only the route differs.
LOCUSTFILE = """
from locust import HttpUser, task, constant

class Api(HttpUser):
    wait_time = constant(0.02)

    @task
    def api(self):
        self.client.get("{path}", name="/api")
"""

UTF8 = {"PYTHONIOENCODING": "utf-8"}


def _run(cwd: Path, url: str, path: str, *args: str) -> Any:
    write(cwd, "locustfile.py", LOCUSTFILE.format(path=path))
    return run_cli(
        cwd, "--headless", "-u", "2", "-r", "100", "-t", "1.5", "-H", url, "--only-summary",
        *args, env=UTF8,
    )  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """base.json (fast route) and new.json (the 30 ms route) from two real runs."""
    cwd = tmp_path_factory.mktemp("compare")
    with serve() as target:
        for name, path in (("base", "/"), ("new", "/delay")):
            result = _run(cwd, target.url, path, "--json-file", name)
            assert result.returncode == 0, result.stderr
        yield cwd, target.url


def _compare(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(cwd, "compare", "base.json", "new.json", *args, env=env or UTF8)


def test_compare_prints_every_metric_with_the_worse_direction(runs: tuple[Path, str]) -> None:
    cwd, _ = runs
    result = _compare(cwd)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("base: base.json (") and "\nnew : new.json (" in out
    for row in ("Aggregated  (", "GET /api  ("):
        block = out.split(row)[1].split("\n\n")[0]
        for metric in ("rps", "fail_ratio", "p50", "p95", "p99", "p100"):
            assert re.search(rf"^  {re.escape(metric)} ", block, re.M), (metric, block)
        # The new run waits 30 ms per request: slower and fewer requests per second.
        assert re.search(r"^  p50 +\S+ ms  →  +\S+ ms +\+\S+ ms +\+\d+\.\d%  ▲ worse$", block, re.M)
        assert re.search(r"^  rps +\S+/s  →  +\S+/s +-\S+/s +-\d+\.\d%  ▼ worse$", block, re.M)


def test_compare_draws_ascii_when_stdout_is_not_utf8(runs: tuple[Path, str]) -> None:
    cwd, _ = runs
    result = _compare(cwd, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    assert "^ worse" in result.stdout and " -> " in result.stdout
    assert "▲" not in result.stdout and "→" not in result.stdout


def test_a_fail_on_that_holds_exits_98_and_one_that_does_not_exits_0(
    runs: tuple[Path, str],
) -> None:
    cwd, _ = runs
    tripped = _compare(cwd, "--fail-on", "p50>+10%", "--fail-on", "p50>+100s")
    assert tripped.returncode == 98, tripped.stderr
    assert "--fail-on 'p50>+10%' holds on Aggregated: p50 went from " in tripped.stdout
    assert "p50>+100s" not in tripped.stdout.split("GET /api")[-1].split("--fail-on conditions")[0]
    assert "1 of 2 --fail-on conditions hold: the new run regressed." in tripped.stdout
    passed = _compare(cwd, "--fail-on", "GET /api:p50>+100s", "--fail-on", "rps<-99.9%")
    assert passed.returncode == 0, passed.stdout
    assert "None of the 2 --fail-on conditions holds." in passed.stdout


def test_usage_errors_exit_2_with_one_line(runs: tuple[Path, str]) -> None:
    cwd, _ = runs
    write(cwd, "notes.json", '{"hello": 1}')
    cases = [
        (("compare", "base.json", "notes.json"), "notes.json is not a loadhopper JSON summary"),
        (("compare", "base.json", "new.json", "--fail-on", "p95>10%"), "give a signed change"),
        (("compare", "base.json", "new.json", "--fail-on", "p97>+1%"), "which not both files"),
        (("compare", "base.json"), "the following arguments are required: NEW.json"),
    ]
    for args, expected in cases:
        result = run_cli(cwd, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert result.stdout == ""


def test_baseline_on_a_run_prints_the_comparison_after_the_summary(
    runs: tuple[Path, str],
) -> None:
    cwd, url = runs
    result = _run(cwd, url, "/delay", "--baseline", "base.json", "--fail-on", "p50>+10%")
    assert result.returncode == 98, result.stderr  # the run regressed against its baseline
    out = result.stdout
    summary_at = out.index("Response time percentiles")
    compared_at = out.index("Comparison with the baseline base.json:")
    assert summary_at < compared_at
    assert "new : this run (" in out and "▲ worse" in out
    assert "--fail-on 'p50>+10%' holds on Aggregated" in out[compared_at:]


def test_a_bad_baseline_is_a_usage_error_before_the_test(runs: tuple[Path, str]) -> None:
    cwd, url = runs
    result = _run(cwd, url, "/", "--baseline", "locustfile.py", "--json-file", "never")
    assert result.returncode == 2
    assert "locustfile.py is not a loadhopper JSON summary" in result.stderr
    assert not (cwd / "never.json").exists()
    alone = _run(cwd, url, "/", "--fail-on", "p95>+1%", "--json-file", "never")
    assert alone.returncode == 2 and "give --baseline BASE.json too" in alone.stderr


def test_the_html_page_overlays_both_runs_in_chromium(runs: tuple[Path, str]) -> None:
    cwd, _ = runs
    result = _compare(cwd, "--html", "compare.html", "--fail-on", "p50>+10%")
    assert result.returncode == 98, result.stderr
    page_path = cwd / "compare.html"
    data = re.search(r'id="lh-cmp-data">(.*?)</script>', page_path.read_text(encoding="utf-8"))
    assert data is not None
    rows = json.loads(data.group(1))["rows"]
    assert rows["labels"] == ["GET /api"] and rows["new_latency"][0] > rows["base_latency"][0]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        problems = PageProblems(page)
        page.goto(page_path.as_uri())
        for chart in ("lh-cmp-spectrum", "lh-cmp-rps", "lh-cmp-latency"):
            # plotly draws one trace group per run: base and new overlaid.
            page.wait_for_selector(f"#{chart} .main-svg", timeout=WAIT_MS)
            assert page.locator(f"#{chart} .legendtext").all_text_contents() == ["base", "new"]
        worse = page.locator("#lh-cmp-table tr.worse td.mark").all_text_contents()
        assert "▲ worse" in worse and "▼ worse" in worse
        assert page.get_by_text("--fail-on 'p50>+10%' holds on Aggregated").is_visible()
        # Both summaries carry their timeline, so the charts over time overlay the runs too.
        for chart in ("lh-cmp-t-rps", "lh-cmp-t-latency"):
            page.wait_for_selector(f"#{chart} .main-svg", timeout=WAIT_MS)
            assert "new requests/s" in page.locator("#lh-cmp-t-rps .legendtext").all_text_contents()
        shot(page, "compare_runs")
        assert problems.items == []
