# Locustfile-style mutable class attributes (`tasks = [...]`) are the API under test.
# ruff: noqa: RUF012
import random
from collections import Counter
from typing import Any

import pytest

from loadhopper.user import SequentialTaskSet, TagFilter, TaskSet, User, tag, task
from loadhopper.user._task import TaskPicker, normalise_tasks


def f1(user: Any) -> None: ...
def f2(user: Any) -> None: ...
def f3(user: Any) -> None: ...


def test_task_decorator_sets_weights() -> None:
    @task
    def a(self: Any) -> None: ...

    @task(3)
    def b(self: Any) -> None: ...

    @task(0.5)
    def c(self: Any) -> None: ...

    assert a.locust_task_weight == 1  # type: ignore[attr-defined]
    assert b.locust_task_weight == 3  # type: ignore[attr-defined]
    assert c.locust_task_weight == 0.5  # type: ignore[attr-defined]


@pytest.mark.parametrize("weight", [-1, "3", True])
def test_task_rejects_bad_weights(weight: Any) -> None:
    with pytest.raises(ValueError, match="not valid"):
        task(weight)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ([f1, f2], ((f1, 1.0), (f2, 1.0))),
        ([(f1, 3), (f2, 1)], ((f1, 3.0), (f2, 1.0))),
        ({f1: 2, f2: 5}, ((f1, 2.0), (f2, 5.0))),
        ([f1, (f2, 4)], ((f1, 1.0), (f2, 4.0))),
        (None, ()),
    ],
)
def test_normalise_tasks_accepts_every_form(declared: Any, expected: Any) -> None:
    assert normalise_tasks(declared) == expected


@pytest.mark.parametrize(
    ("declared", "message"), [(f1, "give a list"), ([(f1,)], "pair"), ([3], "not callable")]
)
def test_normalise_tasks_rejects_bad_declarations(declared: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_tasks(declared)


def test_user_tasks_combine_list_and_decorated_methods() -> None:
    class U(User):
        tasks = [f1]

        @task(2)
        def m(self) -> None: ...

    assert U.tasks == ((f1, 1.0), (U.m, 2.0))


def test_tasks_are_inherited_from_base_classes() -> None:
    class Base(User):
        abstract = True

        @task
        def base_task(self) -> None: ...

    class Child(Base):
        @task(4)
        def child_task(self) -> None: ...

    assert Child.tasks == ((Base.base_task, 1.0), (Child.child_task, 4.0))


def test_decorated_nested_taskset_class_is_a_task() -> None:
    class U(User):
        @task(3)
        class Inner(TaskSet):
            @task
            def t(self) -> None: ...

    assert U.tasks == ((U.Inner, 3.0),)


def test_sequential_taskset_interleaves_list_and_methods_in_declaration_order() -> None:
    class Seq(SequentialTaskSet):
        @task
        def first(self) -> None: ...

        tasks = [f1, f2]

        @task
        def last(self) -> None: ...

    assert [t for t, _ in Seq.tasks] == [Seq.first, f1, f2, Seq.last]


def test_plain_taskset_puts_the_tasks_list_first() -> None:
    assert [t for t, _ in _PlainSet.tasks] == [f1, _PlainSet.m]


class _PlainSet(TaskSet):
    @task
    def m(self) -> None: ...

    tasks = [f1]


def test_picker_follows_the_weights_with_a_fixed_seed() -> None:
    picker = TaskPicker(((f1, 1.0), (f2, 3.0), (f3, 0.0)))
    rng = random.Random(1234)
    counts = Counter(picker.pick(rng.random) for _ in range(40_000))
    assert f3 not in counts
    assert counts[f2] / counts[f1] == pytest.approx(3.0, rel=0.05)


def test_picker_supports_fractional_weights() -> None:
    picker = TaskPicker(((f1, 0.25), (f2, 0.75)))
    rng = random.Random(99)
    counts = Counter(picker.pick(rng.random) for _ in range(40_000))
    assert counts[f1] / 40_000 == pytest.approx(0.25, abs=0.01)


def test_picker_edges() -> None:
    picker = TaskPicker(((f1, 1.0), (f2, 1.0)))
    assert picker.pick(lambda: 0.0) is f1
    assert picker.pick(lambda: 0.9999999999999999) is f2
    assert not TaskPicker(())
    assert not TaskPicker(((f1, 0.0),))


@tag("a")
def tagged_a(user: Any) -> None: ...


@tag("b", "slow")
def tagged_b(user: Any) -> None: ...


def untagged(user: Any) -> None: ...


class _Inner(TaskSet):
    tasks = [tagged_a, untagged]


@tag("outer")
class _TaggedSet(TaskSet):
    tasks = [untagged]


class _Tree(User):
    tasks = [tagged_a, tagged_b, untagged, _Inner, _TaggedSet]


def test_tag_sets_the_tag_attribute() -> None:
    assert tagged_b.locust_tag_set == {"b", "slow"}  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="at least one"):
        tag()


def test_no_filter_keeps_everything() -> None:
    assert TagFilter().table(_Tree) == _Tree.tasks


def test_include_filter_keeps_tagged_tasks_and_tasksets_that_still_have_tasks() -> None:
    table = TagFilter(include=frozenset({"a"})).table(_Tree)
    assert [t for t, _ in table] == [tagged_a, _Inner]
    inner = TagFilter(include=frozenset({"a"}))
    assert [t for t, _ in inner.table(_Inner)] == [tagged_a]


def test_exclude_filter_drops_tagged_tasks() -> None:
    table = TagFilter(exclude=frozenset({"slow", "a"})).table(_Tree)
    assert [t for t, _ in table] == [untagged, _Inner, _TaggedSet]


def test_tag_on_a_taskset_applies_to_its_tasks() -> None:
    only_outer = TagFilter(include=frozenset({"outer"}))
    assert [t for t, _ in only_outer.table(_Tree)] == [_TaggedSet]
    assert [t for t, _ in only_outer.table(_TaggedSet, frozenset({"outer"}))] == [untagged]
    no_outer = TagFilter(exclude=frozenset({"outer"}))
    assert _TaggedSet not in [t for t, _ in no_outer.table(_Tree)]


def test_filtering_does_not_mutate_classes() -> None:
    before = _Tree.tasks
    TagFilter(include=frozenset({"nothing"})).table(_Tree)
    assert _Tree.tasks == before


def test_warn_empty_logs_classes_left_without_tasks(caplog: pytest.LogCaptureFixture) -> None:
    TagFilter(include=frozenset({"nothing"})).warn_empty([_Tree])
    assert "_Tree has no tasks left" in caplog.text
