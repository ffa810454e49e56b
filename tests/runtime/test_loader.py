import asyncio
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from loadhopper import HttpUser, SequentialTaskSet, constant
from loadhopper._exceptions import LocustfileError
from loadhopper.runtime import Environment, load_locustfile
from user.loopback_server import LoopbackServer

pytestmark = pytest.mark.usefixtures("clean_locust_modules")

SEED = Path(__file__).parent.parent / "fixtures" / "seed_locustfile.py"


def _write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


LOCUST_STYLE = """
    from locust import HttpUser, task, between
    from locust.contrib.fasthttp import FastHttpUser
    from locust.exception import StopUser

    class Web(HttpUser):
        wait_time = between(0, 0)

        @task
        def index(self):
            self.client.get("/")
            raise StopUser()

    class Fast(FastHttpUser):
        abstract = True
"""


def test_a_locust_style_locustfile_loads_our_classes_even_with_locust_installed(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "locustfile.py", LOCUST_STYLE)
    loaded = load_locustfile(str(path))
    (web,) = loaded.user_classes
    assert issubclass(web, HttpUser)
    assert loaded.shape_class is None
    assert loaded.module.__name__ == "locustfile"
    import locust  # the alias is in place after loading

    assert locust.HttpUser is HttpUser


def test_the_loaded_locustfile_runs(tmp_path: Path, server: LoopbackServer) -> None:
    path = _write(tmp_path, "locustfile.py", LOCUST_STYLE)
    loaded = load_locustfile(str(path))
    env = Environment(user_classes=list(loaded.user_classes), host=server.url)
    runner = env.create_local_runner()
    # Each user stops itself after one request; the test ends when all three have.
    env.events.request.add_listener(
        lambda **_: runner.stop() if env.stats.snapshot(0).total.num_requests == 3 else None
    )
    asyncio.run(asyncio.wait_for(runner.run(3, 1000), timeout=10))
    (row,) = env.stats.snapshot(0).rows
    assert (row.method, row.name, row.num_requests) == ("GET", "/", 3)


def test_the_seed_locustfile_loads_unchanged(tmp_path: Path) -> None:
    copy = tmp_path / "locustfile.py"
    shutil.copy(SEED, copy)
    loaded = load_locustfile(str(copy))
    (user,) = loaded.user_classes
    assert user.__name__ == "CatsiteUser" and user.host == "http://localhost:5001/"
    (taskset, weight) = user.tasks[0]
    assert issubclass(taskset, SequentialTaskSet) and weight == 1
    assert [t.__name__ for t, _ in taskset.tasks] == ["index", "create", "update", "delete"]


def test_the_seed_locustfile_runs_against_a_loopback_server(
    tmp_path: Path, server: LoopbackServer
) -> None:
    copy = tmp_path / "locustfile.py"
    shutil.copy(SEED, copy)
    (user_class,) = load_locustfile(str(copy)).user_classes
    # The seed waits 2-5 s between clicks; the test does not need to.
    user_class.wait_time = constant(0)
    env = Environment(user_classes=[user_class], host=server.url)
    runner = env.create_local_runner()
    done = []

    def after_one_cycle(**kwargs: object) -> None:
        if kwargs["name"] == "/[id]/delete" and not done:
            done.append(True)
            runner.stop()

    env.events.request.add_listener(after_one_cycle)
    asyncio.run(asyncio.wait_for(runner.run(1, 100), timeout=10))
    rows = {(r.method, r.name): r.num_failures for r in env.stats.snapshot(0).rows}
    assert rows == {
        ("GET", "/"): 0,
        ("POST", "/create"): 0,
        ("POST", "/[id]/update"): 0,
        ("GET", "/[id]/delete"): 0,
    }


def test_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LocustfileError) as info:
        load_locustfile("locustfile.py")
    assert str(info.value) == "locustfile.py does not exist"


def test_import_failure_names_the_line_and_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "locustfile.py", "import os\n" * 11 + "x + 1\n")
    with pytest.raises(LocustfileError) as info:
        load_locustfile("locustfile.py")
    assert str(info.value) == (
        "locustfile.py failed to import: line 12: NameError: name 'x' is not defined"
    )


def test_syntax_error_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "locustfile.py", "a = 1\ndef (:\n")
    with pytest.raises(LocustfileError, match=r"^locustfile.py failed to import: line 2: Syntax"):
        load_locustfile("locustfile.py")


def test_no_user_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "locustfile.py", "from locust import HttpUser\n")
    with pytest.raises(LocustfileError) as info:
        load_locustfile("locustfile.py")
    assert str(info.value) == (
        "locustfile.py defines no User class (a class that subclasses User, HttpUser or "
        "FastHttpUser and is not abstract)"
    )


TWO_USERS = """
    from locust import User, task, LoadTestShape

    class A(User):
        @task
        def t(self): pass

    class B(User):
        @task
        def t(self): pass

    class Shape(LoadTestShape):
        def tick(self):
            return None
"""


def test_unknown_class_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "locustfile.py", TWO_USERS)
    with pytest.raises(LocustfileError) as info:
        load_locustfile("locustfile.py", class_names=["Foo"])
    assert str(info.value) == "no User class named 'Foo' in locustfile.py (found: A, B)"


def test_class_names_select_and_the_shape_is_found(tmp_path: Path) -> None:
    path = _write(tmp_path, "locustfile.py", TWO_USERS)
    loaded = load_locustfile(str(path), class_names=["B"])
    assert [c.__name__ for c in loaded.user_classes] == ["B"]
    assert loaded.shape_class is not None and loaded.shape_class.__name__ == "Shape"


def test_a_directory_is_searched_recursively_skipping_underscored_names(tmp_path: Path) -> None:
    _write(tmp_path, "pkg/one.py", "from locust import User, task\nclass One(User):\n    pass\n")
    _write(tmp_path, "pkg/sub/two.py", "from locust import User\nclass Two(User):\n    pass\n")
    _write(tmp_path, "pkg/_private.py", "raise RuntimeError('must not be imported')\n")
    _write(tmp_path, "pkg/_skip/three.py", "raise RuntimeError('must not be imported')\n")
    loaded = load_locustfile(str(tmp_path / "pkg"))
    assert sorted(c.__name__ for c in loaded.user_classes) == ["One", "Two"]


def test_a_comma_list_and_a_name_without_py(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "first.py", "from locust import User\nclass First(User):\n    pass\n")
    _write(tmp_path, "second.py", "from locust import User\nclass Second(User):\n    pass\n")
    loaded = load_locustfile("first.py, second")
    assert [c.__name__ for c in loaded.user_classes] == ["First", "Second"]
    assert len(loaded.modules) == 2


def test_a_dotted_module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, "mypkg/__init__.py", "")
    _write(tmp_path, "mypkg/loadfile.py", "from locust import User\nclass M(User):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_locustfile("mypkg.loadfile")
    assert [c.__name__ for c in loaded.user_classes] == ["M"]


def test_a_locustfile_can_import_a_helper_beside_it(tmp_path: Path) -> None:
    _write(tmp_path, "helper_for_lh.py", "VALUE = 42\n")
    path = _write(
        tmp_path,
        "locustfile.py",
        "from helper_for_lh import VALUE\nfrom locust import User\n"
        "class H(User):\n    value = VALUE\n",
    )
    (cls,) = load_locustfile(str(path)).user_classes
    assert cls.value == 42  # type: ignore[attr-defined]
    assert str(tmp_path) in sys.path
