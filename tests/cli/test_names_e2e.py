"""The rest of Locust's names, end to end: one locustfile under loadhopper and under Locust.

The file imports the modules and names issue 9 lists (`locust.log`, `locust.shape`,
`locust.user.users`, `locust.util.timespan`, `MarkovTaskSet`, `poisson`, ...) and runs a
Markov chain: `a` goes to `b` (weight 3) or `c` (weight 1), and both go back to `a`. Under
both tools `b` runs about 3 times as often as `c`, and each `a` is followed by exactly one
`b` or `c`, so the counts of `a` and of `b` + `c` differ by at most one per user. The
bounds (b/c between 1.5 and 6) are far outside what the noise of a few hundred transitions
gives. Every run is bounded by `-t` and by a timeout on the subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_gevent_e2e import _both
from test_main_e2e import read_csv

NAMES = """
import logging

from locust import HttpUser, MarkovTaskSet, log, poisson, transition, transitions
from locust import wait_time as wait_time_module
from locust.log import greenlet_exception_logger, setup_logging
from locust.shape import LoadTestShape
from locust.user.markov_taskset import MarkovTaskSet as MarkovFromItsModule
from locust.user.sequential_taskset import SequentialTaskSet
from locust.user.users import HttpUser as HttpUserFromUsers, User
from locust.util.timespan import parse_timespan

assert MarkovFromItsModule is MarkovTaskSet and HttpUserFromUsers is HttpUser
assert issubclass(HttpUser, User) and callable(log.setup_logging) and SequentialTaskSet
assert parse_timespan("1h20m") == 4800 and parse_timespan("20") == 20
assert wait_time_module.poisson is poisson
assert callable(greenlet_exception_logger(logging.getLogger()))
assert LoadTestShape

setup_logging("INFO")


class Chain(MarkovTaskSet):
    @transition("b", weight=3)
    @transition("c")
    def a(self):
        self.client.get("/", name="a")

    @transitions(["a"])
    def b(self):
        self.client.get("/1", name="b")

    @transitions({"a": 1})
    def c(self):
        self.client.get("/2", name="c")


class Walker(HttpUser):
    wait_time = poisson(200)
    tasks = [Chain]
"""


def _counts(tmp_path: Path, tool: str) -> dict[str, int]:
    rows = read_csv(tmp_path / tool / "out_stats.csv")
    return {
        row["Name"]: int(row["Request Count"]) for row in rows if row["Name"] in ("a", "b", "c")
    }


def test_a_markov_chain_and_the_locust_names_run_as_under_locust(
    tmp_path: Path, target: Any
) -> None:
    users = 4
    outcomes = _both(tmp_path, NAMES, "-H", target.url, "-u", str(users), "-r", "4", "-t", "3s")
    for tool, (result, _total, _elapsed) in outcomes.items():
        assert result.returncode == 0, (tool, result.stderr[-3000:])
    for tool in ("loadhopper", "locust"):
        counts = _counts(tmp_path, tool)
        assert set(counts) == {"a", "b", "c"}, (tool, counts)
        # The chain alternates a, then b or c: a run stops at most one step short per user.
        assert abs(counts["a"] - counts["b"] - counts["c"]) <= users, (tool, counts)
        assert counts["c"] >= 20, (tool, counts)  # enough transitions for the ratio to mean much
        assert 1.5 <= counts["b"] / counts["c"] <= 6, (tool, counts)
    # The same file makes a comparable amount of traffic under both.
    ours, theirs = _counts(tmp_path, "loadhopper"), _counts(tmp_path, "locust")
    assert sum(ours.values()) >= sum(theirs.values()) / 3
