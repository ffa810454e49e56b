"""Runs the hostile scenarios a few at a time, ahead of the tests that check them.

Each test names its run with `@pytest.mark.scenario(SCENARIO)`. The first hostile test to
start launches every selected scenario in a small thread pool (each run is a subprocess
with its own server, so runs do not share counts), and each test then waits only for its
own run. A run spends most of its seconds waiting on its `-t`, so three at a time keep the
suite short without crowding two cores; `pytest -k reset` still starts only that run.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from hostile.cli_run import Outcome, Scenario, run_scenario

CONCURRENT_RUNS = 3


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(s): the hostile CLI run a test checks")


class Campaign:
    """The scenario runs of one test session, started ahead and awaited one by one."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._pool = ThreadPoolExecutor(CONCURRENT_RUNS, thread_name_prefix="hostile-run")
        self._runs: dict[str, tuple[Scenario, Future[Outcome]]] = {}

    def submit(self, scenario: Scenario) -> Future[Outcome]:
        if scenario.name in self._runs:
            known, future = self._runs[scenario.name]
            if known != scenario:
                raise ValueError(f"two different scenarios are named {scenario.name!r}")
            return future
        future = self._pool.submit(run_scenario, scenario, self._root / scenario.name)
        self._runs[scenario.name] = (scenario, future)
        return future

    def close(self) -> None:
        # Every run bounds itself (its hang bound kills it), so waiting here cannot hang.
        self._pool.shutdown(wait=True, cancel_futures=True)


def _scenario_of(item: pytest.Item) -> Scenario | None:
    marker = item.get_closest_marker("scenario")
    return None if marker is None else marker.args[0]


@pytest.fixture(scope="session")
def campaign(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Campaign]:
    runs = Campaign(tmp_path_factory.mktemp("hostile"))
    for item in request.session.items:
        scenario = _scenario_of(item)
        if scenario is not None:
            runs.submit(scenario)
    yield runs
    runs.close()


@pytest.fixture
def outcome(request: pytest.FixtureRequest, campaign: Campaign) -> Outcome:
    """The finished run named by the test's `scenario` marker."""
    scenario = _scenario_of(request.node)
    if scenario is None:
        raise pytest.UsageError("a test using `outcome` needs @pytest.mark.scenario(...)")
    return campaign.submit(scenario).result()
