"""The `locust.*` names a locustfile imports, as loadhopper's shims give them.

Locust's own code is read where that is safe without importing the `locust` package (whose
`__init__` monkey-patches the process): its `__all__` is parsed, and its standalone
modules (`util/timespan.py`) are loaded by path. Anything else of Locust runs in a
subprocess.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from loadhopper._exceptions import LocustfileError
from loadhopper.runtime import load_locustfile
from loadhopper.runtime._locust_alias import ALIASED_MODULES, install_locust_alias

# The test lives in tests/compat, whose conftest provides these fixtures.
pytestmark = pytest.mark.usefixtures("clean_locust_modules")


def _locust_file(relative: str) -> Path:
    spec = importlib.util.find_spec("locust")  # locates it without running its __init__
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(spec.submodule_search_locations[0]) / relative


def _load_by_path(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("locust_part_for_test", _locust_file(relative))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _locusts_all() -> list[str]:
    tree = ast.parse(_locust_file("__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("Locust's __init__.py has no __all__")


def _load(tmp_path: Path, text: str) -> ModuleType:
    """Load `text` as a locustfile (with a User class added, which a locustfile needs)."""
    path = tmp_path / "locustfile_names.py"
    path.write_text(textwrap.dedent(text) + "\n" + _A_USER)
    (module,) = load_locustfile(str(path)).modules
    return module


_A_USER = """
from locust import User as _User, task as _task

class _AnyUser(_User):
    @_task
    def nothing(self):
        pass
"""


def test_every_name_of_locusts_all_is_importable_from_locust() -> None:
    install_locust_alias()
    import locust

    theirs = _locusts_all()
    assert "MarkovTaskSet" in theirs and "poisson" in theirs  # the parse found the real list
    missing = [name for name in theirs if not hasattr(locust, name)]
    assert missing == []
    assert set(theirs) <= set(locust.__all__)


def test_the_submodules_locustfiles_import_resolve(tmp_path: Path) -> None:
    module = _load(
        tmp_path,
        """
        import locust.log
        from locust import log, wait_time, MarkovTaskSet, transition, transitions, poisson
        from locust.log import setup_logging, greenlet_exception_logger
        from locust.log import unhandled_greenlet_exception
        from locust.shape import LoadTestShape
        from locust.user.users import HttpUser, User
        from locust.user.sequential_taskset import SequentialTaskSet
        from locust.user.markov_taskset import MarkovTaskSet as FromModule
        from locust.user.markov_taskset import InvalidTransitionError
        from locust.user.inspectuser import get_ratio, print_task_ratio
        from locust.util.timespan import parse_timespan
        from locust import util

        names = dict(globals())
        """,
    )
    import loadhopper
    import loadhopper.user

    names: dict[str, Any] = module.names
    assert names["log"] is names["locust"].log
    assert names["setup_logging"] is names["log"].setup_logging
    assert names["unhandled_greenlet_exception"] is False
    assert names["LoadTestShape"] is loadhopper.LoadTestShape
    assert names["HttpUser"] is loadhopper.HttpUser and names["User"] is loadhopper.User
    assert names["SequentialTaskSet"] is loadhopper.SequentialTaskSet
    assert names["FromModule"] is names["MarkovTaskSet"] is loadhopper.user.MarkovTaskSet
    assert names["wait_time"].poisson is names["poisson"] is loadhopper.user.poisson
    assert names["wait_time"].between is loadhopper.between
    assert names["parse_timespan"]("2m") == 120


def test_every_aliased_module_exists_and_names_only_what_it_has() -> None:
    install_locust_alias()
    for name in ALIASED_MODULES:
        module = sys.modules[name]
        for exported in getattr(module, "__all__", ()):
            assert hasattr(module, exported), (name, exported)


@pytest.mark.parametrize(
    "statement",
    [
        "from locust.util.rounding import proper_round",
        "from locust.util.cache import memoize",
        "from locust.util import deprecation",
    ],
)
def test_the_rest_of_locust_util_is_a_clear_import_error(tmp_path: Path, statement: str) -> None:
    # The loader reports the ImportError as the locustfile's failure, naming the module.
    with pytest.raises(LocustfileError, match=r"(ModuleNotFound|Import)Error: .*locust\._?util"):
        _load(tmp_path, statement)


def test_the_old_class_names_fail_with_the_new_ones(tmp_path: Path) -> None:
    with pytest.raises(LocustfileError, match="ImportError: HttpLocust was renamed HttpUser"):
        _load(tmp_path, "from locust import HttpLocust\nclass Old(HttpLocust): pass\n")
    with pytest.raises(LocustfileError, match="ImportError: Locust was renamed User"):
        _load(tmp_path, "from locust import Locust\nclass Old(Locust): pass\n")


SPANS = ["20", "0", "20s", "3m", "2h", "1h20m", "3h30m10s", "1h30s", "90m", "45m15s"]


def test_parse_timespan_gives_locusts_answer_for_every_form_locust_accepts() -> None:
    theirs = _load_by_path("util/timespan.py").parse_timespan
    install_locust_alias()
    from locust.util.timespan import parse_timespan

    for text in SPANS:
        ours = parse_timespan(text)
        assert ours == theirs(text) and type(ours) is int, text
    assert parse_timespan("1.5s") == 1.5  # loadhopper also takes fractions


@pytest.mark.parametrize("text", ["", "abc", "1d", "h", "1h1h"])
def test_parse_timespan_refuses_what_is_not_a_span(text: str) -> None:
    install_locust_alias()
    from locust.util.timespan import parse_timespan

    with pytest.raises(ValueError, match="time span"):
        parse_timespan(text)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_setup_logging_writes_at_the_level_to_a_new_logfile(
    tmp_path: Path, restore_logging: None
) -> None:
    install_locust_alias()
    from locust.log import setup_logging

    logfile = tmp_path / "logs" / "run.log"  # the directory does not exist yet
    setup_logging("warning", str(logfile))
    logging.getLogger("locustfile").info("not this one")
    logging.getLogger("locustfile").warning("but this one")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = logfile.read_text()
    assert "but this one" in text and "not this one" not in text
    assert "WARNING locustfile:" in text  # the CLI's line format
    with pytest.raises(ValueError, match="not a log level"):
        setup_logging("LOUD")


def test_greenlet_exception_logger_logs_a_failed_greenlet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from compat.test_gevent_greenlets import in_user
    from loadhopper._locust import log as locust_log
    from loadhopper.runtime import _gevent as gevent

    logger = logging.getLogger("locustfile.greenlets")

    def fails() -> None:
        raise RuntimeError("spawned and failed")

    def body() -> None:
        greenlet = gevent.spawn(fails)
        greenlet.link_exception(locust_log.greenlet_exception_logger(logger, logging.ERROR))
        gevent.joinall([greenlet])
        gevent.sleep(0.01)  # let the link callbacks run

    with caplog.at_level(logging.ERROR, logger="locustfile.greenlets"):
        in_user(body)
    records = [r for r in caplog.records if r.name == "locustfile.greenlets"]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None and "spawned and failed" in str(records[0].exc_info[1])
    assert locust_log.unhandled_greenlet_exception is True
    locust_log.unhandled_greenlet_exception = False


# The same classes, for Locust's and for our `locust.user.inspectuser`.
RATIO_CLASSES = """
class Inner(TaskSet):
    @task(1)
    def deep(self): pass
    @task(3)
    def deeper(self): pass

class Shopper(User):
    weight = 3
    tasks = {Inner: 1}
    @task(1)
    def browse(self): pass

class Admin(User):
    @task
    def manage(self): pass
"""

_RATIO_SCRIPT = """
import contextlib, io, json, sys
{imports}
exec(sys.argv[1])
counts = _calc_distribution([Shopper, Admin], 8)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    print_task_ratio([Shopper, Admin], 8, True)
    print_task_ratio([Shopper, Admin], None, False)
print(json.dumps([counts, get_ratio([Shopper, Admin], counts, False),
                  get_ratio([Shopper, Admin], counts, True), printed.getvalue()]))
"""


def _ratios(imports: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", _RATIO_SCRIPT.format(imports=imports), RATIO_CLASSES],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"LOCUST_SKIP_MONKEY_PATCH": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_inspectuser_gives_locusts_task_ratios() -> None:
    theirs = _ratios(
        "from locust import TaskSet, User, task\n"
        "from locust.user.inspectuser import _calc_distribution, get_ratio, print_task_ratio"
    )
    ours = _ratios(
        "from loadhopper import TaskSet, User, task\n"
        "from loadhopper._locust.user.inspectuser import get_ratio, print_task_ratio\n"
        "from loadhopper._locust.user.inspectuser import _user_counts as _calc_distribution"
    )
    assert ours[0] == theirs[0] == {"Shopper": 6, "Admin": 2}
    assert _same_tree(ours[1:3], theirs[1:3])
    assert ours[3] == theirs[3] and "9.4" in ours[3]  # the printed table, to the character
    assert ours[2]["Shopper"]["tasks"]["Inner"]["tasks"]["deeper"]["ratio"] == pytest.approx(
        6 / 8 * 1 / 2 * 3 / 4
    )


def _same_tree(ours: Any, theirs: Any) -> bool:
    """Equal nested dicts and lists, with floats equal to rounding."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_same_tree(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(_same_tree, ours, theirs))
    return bool(ours == pytest.approx(theirs))
