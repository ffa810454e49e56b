"""MarkovTaskSet: the decorators, the chain it walks, and the errors of a broken chain.

The errors are compared with what Locust 2.47 raises for the same class bodies, run in a
subprocess (importing Locust here would monkey-patch this test process).
"""

# Locustfile-style mutable class attributes (`tasks = [...]`) are the API under test.
# ruff: noqa: RUF012
from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadhopper import HttpUser, StopUser, User, constant, task
from loadhopper._exceptions import LocustError
from loadhopper.user import MarkovTaskSet, transition, transitions
from loadhopper.user._markov import (
    InvalidTransitionError,
    NoMarkovTasksError,
)
from loadhopper.user._task import TagFilter
from user.helpers import make_env, run_user
from user.loopback_server import LoopbackServer

PYTHON = Path(sys.executable)


class _Log(list[str]):
    """What the states ran; full after `steps` entries, which stops the user."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def note(self, name: str) -> None:
        self.append(name)
        if len(self) >= self.steps:
            raise StopUser()


def _walk(chain: type[MarkovTaskSet]) -> None:
    """Run one user whose only task is `chain`, until a state stops it."""

    class Walker(User):
        wait_time = constant(0)
        tasks = [chain]

    run_user(Walker(make_env(Walker)))


def test_the_decorators_record_transitions_as_locust_does() -> None:
    @transition("b", weight=3)
    @transition("c")
    def a(self: Any) -> None: ...

    @transitions({"a": 2, "c": 1})
    def b(self: Any) -> None: ...

    @transitions(["a", ("b", 4)])
    def c(self: Any) -> None: ...

    assert a.transitions == {"c": 1, "b": 3}  # type: ignore[attr-defined]
    assert b.transitions == {"a": 2, "c": 1}  # type: ignore[attr-defined]
    assert c.transitions == {"a": 1, "b": 4}  # type: ignore[attr-defined]


def test_the_walk_starts_at_the_first_state_and_follows_the_transitions() -> None:
    log = _Log(7)

    class Cycle(MarkovTaskSet):
        @transition("second")
        def first(self) -> None:
            log.note("first")

        @transition("third")
        def second(self) -> None:
            log.note("second")

        @transitions(["first"])
        def third(self) -> None:
            log.note("third")

    _walk(Cycle)
    assert log == ["first", "second", "third", "first", "second", "third", "first"]


def test_weights_set_how_often_each_transition_is_taken() -> None:
    random.seed(20240509)
    log = _Log(8000)

    class Weighted(MarkovTaskSet):
        @transition("b", weight=3)
        @transition("c", weight=1)
        def a(self) -> None:
            log.note("a")

        @transition("a")
        def b(self) -> None:
            log.note("b")

        @transition("a")
        def c(self) -> None:
            log.note("c")

    _walk(Weighted)
    assert log[::2] == ["a"] * 4000  # b and c only ever follow a, and a always follows them
    b, c = log.count("b"), log.count("c")
    # 4000 draws of 3:1: the ratio's standard error is about 0.15, so this cannot flake.
    assert 2.4 <= b / c <= 3.75, (b, c)


def test_states_may_be_async_and_weights_fractional() -> None:
    log = _Log(4)

    class Mixed(MarkovTaskSet):
        @transition("b", weight=0.5)
        async def a(self) -> None:
            log.note("a")

        @transition("a", weight=2.5)
        def b(self) -> None:
            log.note("b")

    _walk(Mixed)
    assert log == ["a", "b", "a", "b"]


def test_markov_tasks_make_requests_like_any_task(server: LoopbackServer) -> None:
    log = _Log(6)

    class Pages(MarkovTaskSet):
        @transition("json")
        def index(self) -> None:
            self.client.get("/")
            log.note("index")

        @transition("index")
        def json(self) -> None:
            self.client.get("/json")
            log.note("json")

    class Browser(HttpUser):
        host = server.url
        wait_time = constant(0)
        tasks = [Pages]

    env = make_env(Browser)
    before = len(server.log)
    run_user(Browser(env))
    assert server.paths()[before:] == ["/", "/json"] * 3
    rows = {row.name: row.num_requests for row in env.stats.snapshot(0).rows}
    assert rows == {"/": 3, "/json": 3}


def test_interrupting_leaves_the_chain_and_a_new_entry_starts_at_the_first_state() -> None:
    log = _Log(6)

    class Leaving(MarkovTaskSet):
        @transition("leave")
        def enter(self) -> None:
            log.note("enter")

        @transition("middle")
        def leave(self) -> None:
            log.note("leave")
            self.interrupt()

        @transition("enter")
        def middle(self) -> None:
            log.note("middle")

    _walk(Leaving)
    # Had the chain gone on where it was, "middle" would follow "leave".
    assert log == ["enter", "leave"] * 3


def test_current_is_the_next_task_and_can_be_assigned() -> None:
    log: list[str] = []

    class Jump(MarkovTaskSet):
        @transition("b")
        def a(self) -> None:
            log.append("a")

        @transition("a")
        def b(self) -> None:
            log.append("b")

    class Holder(User):
        wait_time = constant(0)
        tasks = [Jump]

        @task
        def unused(self) -> None: ...

    chain = Jump(Holder(make_env(Holder)))
    assert chain.current == chain.a
    chain.current = chain.b
    assert chain.get_next_task() is Jump.b and chain.current == chain.a
    with pytest.raises(ValueError, match="not a task of Jump"):
        chain.current = print


def test_the_long_run_shares_are_the_tasks_weights() -> None:
    class Shares(MarkovTaskSet):
        @transition("b", weight=3)
        @transition("c")
        def a(self) -> None: ...

        @transition("a")
        def b(self) -> None: ...

        @transition("a")
        def c(self) -> None: ...

        @transition("a")
        def orphan(self) -> None: ...

    shares = {fn.__name__: weight for fn, weight in Shares.tasks}
    assert shares == pytest.approx({"a": 0.5, "b": 0.375, "c": 0.125, "orphan": 0.0})


def test_task_and_tasks_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    log = _Log(3)

    def listed(ts: Any) -> None:
        log.note("listed")

    with caplog.at_level(logging.WARNING):

        class Ignoring(MarkovTaskSet):
            tasks = [listed]

            @task(5)
            def decorated(self) -> None:
                log.note("decorated")

            @task
            @transition("state")
            def state(self) -> None:
                log.note("state")

    assert "decorated, state, tasks" in caplog.text
    _walk(Ignoring)
    assert log == ["state"] * 3


def test_exclude_tags_keeps_an_untagged_markov_set() -> None:
    class Untagged(MarkovTaskSet):
        @transition("a")
        def a(self) -> None: ...

    class Shopper(User):
        tasks = [Untagged]

    assert TagFilter(exclude=frozenset({"other"})).table(Shopper) == ((Untagged, 1.0),)


def test_include_tags_keeps_an_untagged_markov_set_as_locust_does() -> None:
    class Untagged(MarkovTaskSet):
        @transition("a")
        def a(self) -> None: ...

    class Shopper(User):
        tasks = [Untagged]

    assert TagFilter(include=frozenset({"other"})).table(Shopper) == ((Untagged, 1.0),)


def test_an_abstract_base_is_not_checked_and_cannot_run() -> None:
    class Base(MarkovTaskSet):
        abstract = True

        def helper(self) -> None: ...

    class Holder(User):
        tasks = [Base]

    assert Base.abstract
    with pytest.raises(NoMarkovTasksError, match="abstract"):
        Base(Holder(make_env(Holder)))


def test_a_reachable_dead_end_fails_at_class_creation() -> None:
    # Locust accepts this class, then fails on every pick once the walk reaches `end`.
    with pytest.raises(InvalidTransitionError, match="no transition with a weight above 0"):

        class DeadEnd(MarkovTaskSet):
            @transition("end")
            def start(self) -> None: ...

            @transitions({"start": 0})
            def end(self) -> None: ...


@pytest.mark.parametrize(
    ("weight", "error"), [(-1, ValueError), ("2", TypeError), (None, TypeError)]
)
def test_bad_weights_fail_at_decoration(weight: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="transition weight"):
        transition("a", weight=weight)  # type: ignore[arg-type]


# Class bodies that Locust rejects (or warns about), and what each one raises there.
BROKEN = {
    "no_tasks": """
        class Chain(MarkovTaskSet):
            def a(self): pass
    """,
    "missing_target": """
        class Chain(MarkovTaskSet):
            @transition("nowhere")
            def a(self): pass
    """,
    "non_markov_target": """
        class Chain(MarkovTaskSet):
            @transition("plain")
            def a(self): pass
            def plain(self): pass
    """,
    "tagged": """
        class Chain(MarkovTaskSet):
            @tag("slow")
            @transition("a")
            def a(self): pass
    """,
    "named_run": """
        class Chain(MarkovTaskSet):
            @transition("run")
            def a(self): pass
            @transition("a")
            def run(self): pass
    """,
    "subclass_without_own_states": """
        class Chain(MarkovTaskSet):
            @transition("a")
            def a(self): pass
        class Sub(Chain):
            pass
    """,
    "abstract": """
        class Chain(MarkovTaskSet):
            abstract = True
            def a(self): pass
    """,
    "unreachable": """
        class Chain(MarkovTaskSet):
            @transition("a")
            def a(self): pass
            @transition("a")
            def island(self): pass
    """,
}

_OUTCOMES = """
import json, logging, sys, textwrap
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="WARNING %(message)s")
{imports}
cases = json.loads(sys.argv[1])
for name, body in cases.items():
    print("CASE", name)
    try:
        exec(textwrap.dedent(body), dict(globals()))
    except Exception as exc:
        print("RAISED", type(exc).__name__, str(exc))
    else:
        print("OK")
"""


def _outcomes(imports: str) -> dict[str, str]:
    """Each case's outcome line ("RAISED <type> <message>" or "OK"), warnings appended."""
    result = subprocess.run(
        [str(PYTHON), "-c", _OUTCOMES.format(imports=imports), json.dumps(BROKEN)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"LOCUST_SKIP_MONKEY_PATCH": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    outcomes: dict[str, str] = {}
    name = ""
    for line in result.stdout.splitlines():
        if line.startswith("CASE "):
            name = line[5:]
            outcomes[name] = ""
        else:
            outcomes[name] += line + "\n"
    return outcomes


def test_broken_chains_raise_what_locust_raises() -> None:
    theirs = _outcomes(
        "from locust import MarkovTaskSet, tag, transition, transitions\n"
        "from locust.user.markov_taskset import *"
    )
    ours = _outcomes(
        "from loadhopper.user import MarkovTaskSet, tag, transition, transitions\n"
        "from loadhopper.user._markov import *"
    )
    expected = {
        "no_tasks": "NoMarkovTasksError",
        "missing_target": "InvalidTransitionError",
        "non_markov_target": "NonMarkovTaskTransitionError",
        "tagged": "MarkovTaskTagError",
        "subclass_without_own_states": "NoMarkovTasksError",
    }
    for case, error in expected.items():
        assert theirs[case].startswith(f"RAISED {error} "), (case, theirs[case])
        assert ours[case].startswith(f"RAISED {error} "), (case, ours[case])
    # What the messages name, in substance: the class, and the culprit.
    for case, words in {
        "no_tasks": ["Chain", "@transition"],
        "missing_target": ["Chain", "nowhere", "a"],
        "non_markov_target": ["Chain", "plain", "a"],
        "tagged": ["Chain", "a", "slow"],
    }.items():
        for word in words:
            assert word in theirs[case] and word in ours[case], (case, word)
    # Locust raises a bare Exception for a state named run; ours is a LocustError (still an
    # Exception, so `except Exception` catches both).
    assert theirs["named_run"].startswith("RAISED Exception ")
    assert ours["named_run"].startswith("RAISED LocustError ") and "run" in ours["named_run"]
    assert issubclass(LocustError, Exception)
    assert theirs["abstract"] == ours["abstract"] == "OK\n"
    for outcome in (theirs["unreachable"], ours["unreachable"]):
        assert outcome.startswith("WARNING ") and "island" in outcome and outcome.endswith("OK\n")
