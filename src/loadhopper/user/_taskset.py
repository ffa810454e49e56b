"""TaskSet and SequentialTaskSet: groups of tasks, nestable, with their own life cycle.

Theory of operation. A user runs one task loop (`TaskSet.run`) at a time, in its greenlet:
pick a task, run it, wait, repeat. Running a nested TaskSet class as a task starts *its*
loop, which returns to the parent only through `InterruptTaskSet` (`self.interrupt()`),
converted on the way out into `RescheduleTask` / `RescheduleTaskImmediately` for the
parent. `StopUser`, `StopTest` and cancellation unwind every level, each running its
`on_stop`. Any other exception in a task is reported through the environment and the loop
goes on after a wait, as Locust does with `catch_exceptions=True`.

A task may be an `async def`: calling it returns a coroutine, which the loop hands to the
event loop through the bridge (`await_`), so it runs as a plain coroutine and can
`await self.client.aget(...)`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from loadhopper._bridge import await_
from loadhopper._exceptions import (
    InterruptTaskSet,
    LocustError,
    MissingWaitTimeError,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)
from loadhopper.user._task import (
    HOLDER_ATTR,
    Task,
    TaskPicker,
    TaskTable,
    collect_tasks,
    holder_tags,
    is_task_holder,
)
from loadhopper.user._user_state import UserState

if TYPE_CHECKING:
    from loadhopper.user._user import User
    from loadhopper.user._user_environment import UserEnvironment

__all__ = ["DefaultTaskSet", "SequentialTaskSet", "TaskSet", "call_user_code"]

logger = logging.getLogger(__name__)

# The exceptions that end a task loop and unwind to the user (running on_stop on the way).
_UNWIND = (StopUser, StopTest, asyncio.CancelledError)


def call_user_code(fn: Callable[..., Any], *args: Any) -> Any:
    """Call user code; if it returns an awaitable (an `async def`), await it on the loop."""
    result = fn(*args)
    # Sync tasks return None: test that first, so the common case costs one comparison.
    if result is not None and inspect.isawaitable(result):
        return await_(result)
    return result


class TaskSet:
    """A group of tasks a user runs; nest it by listing it in a User's or TaskSet's tasks.

    Attributes:
        tasks: the tasks to pick from: a list, a list of `(task, weight)` pairs, a dict of
            task to weight, and/or methods decorated with `@task`.
        user: the User instance running this TaskSet.
        parent: the User or TaskSet that started this TaskSet.
    """

    tasks: ClassVar[Any] = ()
    _loadhopper_task_holder: ClassVar[bool] = True
    _interleave_tasks: ClassVar[bool] = False
    _tags: frozenset[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.tasks = collect_tasks(cls, interleave=cls._interleave_tasks)

    def __init__(self, parent: User | TaskSet) -> None:
        if isinstance(parent, TaskSet):
            self.user: User = parent.user
            inherited = parent._tags
        else:
            self.user = parent
            inherited = holder_tags(type(parent), frozenset())
        self.parent: User | TaskSet = parent
        self._tags = holder_tags(type(self), inherited)
        self._task_queue: deque[Task] = deque()
        self._table: TaskTable = self.user.environment.task_filter.table(type(self), self._tags)
        self._picker = TaskPicker(self._table)

    @property
    def client(self) -> Any:
        """The user's client (an HttpSession for HttpUser and FastHttpUser)."""
        return self.user.client

    @property
    def environment(self) -> UserEnvironment:
        """The environment the user runs in."""
        return self.user.environment

    def on_start(self) -> None:
        """Called when the user starts running this TaskSet."""

    def on_stop(self) -> None:
        """Called when the TaskSet stops: interrupted, or the user stops."""

    def wait_time(self) -> float:
        """Seconds to wait between tasks; the user's `wait_time` unless overridden here."""
        # Read through getattr: the attribute is a plain function on the class, bound on
        # access, which the type checker cannot see through a Callable annotation.
        user_wait: Callable[[], float] | None = getattr(self.user, "wait_time", None)
        if user_wait is None:
            raise MissingWaitTimeError(
                f"{type(self.user).__name__} has no wait_time; set one, for example "
                "`wait_time = between(1, 3)` (or constant(0) for no wait)"
            )
        return user_wait()

    def interrupt(self, reschedule: bool = True) -> None:
        """Leave this TaskSet and hand control back to its parent.

        Args:
            reschedule: True: the parent picks its next task at once; False: it waits first.
        """
        raise InterruptTaskSet(reschedule)

    def schedule_task(self, task_callable: Task, first: bool = False) -> None:
        """Queue a task to run next (`first=True`) or after the already queued ones."""
        if first:
            self._task_queue.appendleft(task_callable)
        else:
            self._task_queue.append(task_callable)

    def get_next_task(self) -> Task:
        """Pick the next task by weight."""
        if not self._picker:
            raise NoTasksError(self._holder_name())
        return self._picker.pick()

    def execute_next_task(self) -> None:
        """Run the first queued task."""
        self.execute_task(self._task_queue.popleft())

    def execute_task(self, task: Task) -> None:
        """Run one task: a nested TaskSet's loop, a bound method, or a function of self."""
        if is_task_holder(task):
            task(self).run()
        elif getattr(task, "__self__", None) is self:
            call_user_code(task)
        else:
            call_user_code(task, self._task_target())

    def _holder_name(self) -> str:
        return type(self).__name__

    def _task_target(self) -> Any:
        """The object task functions receive: the TaskSet (the User, for a User's tasks)."""
        return self

    def wait(self) -> None:
        """Wait `wait_time()` seconds; a stopping user stops here instead."""
        user = self.user
        if user._state is UserState.STOPPING:
            raise StopUser()
        user._state = UserState.WAITING
        user._sleep(self.wait_time())
        if user._state is UserState.STOPPING:
            raise StopUser()
        user._state = UserState.RUNNING

    def run(self) -> None:
        """The task loop. It returns only by raising (see the module docstring)."""
        try:
            call_user_code(self.on_start)
        except InterruptTaskSet as exc:
            raise _reschedule(exc) from exc
        wait_first = False
        user = self.user
        while True:
            try:
                if wait_first:
                    wait_first = False
                    self.wait()
                if not self._task_queue:
                    self._task_queue.append(self.get_next_task())
                try:
                    if user._state is UserState.STOPPING:
                        raise StopUser()
                    self.execute_next_task()
                except RescheduleTaskImmediately:
                    continue
                except RescheduleTask:
                    pass
                self.wait()
            except InterruptTaskSet as exc:
                self._on_stop_quietly(propagate=(StopUser, StopTest))
                raise _reschedule(exc) from exc
            except _UNWIND:
                self._on_stop_quietly(propagate=())
                raise
            except NoTasksError as exc:
                # Without tasks the loop cannot make progress: end the user rather than
                # report the same error after every wait.
                user.environment.report_user_error(user, exc)
                raise StopUser() from exc
            except Exception as exc:
                signal = user._signal_for(exc)
                if signal is not None:
                    raise signal from exc
                user.environment.report_user_error(user, exc)
                if not user.environment.catch_exceptions:
                    raise
                if user._state is UserState.WAITING:
                    # wait_time() itself failed: every later wait would fail the same way,
                    # with no pause between, so end this user instead of spinning.
                    raise StopUser() from exc
                wait_first = True

    def _on_stop_quietly(self, propagate: tuple[type[BaseException], ...]) -> None:
        try:
            call_user_code(self.on_stop)
        except propagate:
            raise
        except Exception as exc:
            self.user.environment.report_user_error(self.user, exc)


class NoTasksError(LocustError):
    """A User or TaskSet has nothing to run (none declared, or all filtered out by tags)."""

    def __init__(self, holder: str) -> None:
        super().__init__(
            f"{holder} has no tasks (after tag filtering, if any); "
            "decorate methods with @task or set `tasks`"
        )


def _reschedule(exc: InterruptTaskSet) -> RescheduleTask:
    return RescheduleTaskImmediately() if exc.reschedule else RescheduleTask()


class SequentialTaskSet(TaskSet):
    """A TaskSet that runs its tasks in declaration order, over and over.

    The `tasks` attribute and `@task` methods interleave as declared. A weight is a repeat
    count here: `@task(2)` runs the task twice in a row, as in Locust.
    """

    _interleave_tasks: ClassVar[bool] = True

    def __init__(self, parent: User | TaskSet) -> None:
        super().__init__(parent)
        sequence: list[Task] = []
        for entry, weight in self._table:
            if weight != int(weight):
                raise LocustError(
                    f"{type(self).__name__} gives task {entry!r} weight {weight}; in a "
                    "SequentialTaskSet a weight is a repeat count, so give a whole number"
                )
            sequence.extend([entry] * int(weight))
        self._sequence = sequence
        self._cycle: Iterator[Task] = itertools.cycle(sequence)

    def get_next_task(self) -> Task:
        """The next task in declaration order."""
        if not self._sequence:
            raise NoTasksError(self._holder_name())
        return next(self._cycle)


class DefaultTaskSet(TaskSet):
    """The task loop over a User's own tasks; task functions receive the User."""

    def __init__(self, user: User) -> None:
        # Built directly rather than through TaskSet.__init__: the table is the User class's.
        self.user = user
        self.parent = user
        self._tags = holder_tags(type(user), frozenset())
        self._task_queue = deque()
        self._table = user.environment.task_filter.table(type(user), self._tags)
        self._picker = TaskPicker(self._table)

    def wait_time(self) -> float:
        """The user's wait time."""
        return TaskSet.wait_time(self)

    def _task_target(self) -> Any:
        return self.user

    def _holder_name(self) -> str:
        return type(self.user).__name__

    def execute_task(self, task: Task) -> None:
        """Run one of the user's tasks."""
        if is_task_holder(task):
            task(self.user).run()
        elif getattr(task, "__self__", None) is not None:
            call_user_code(task)
        else:
            call_user_code(task, self.user)


# DefaultTaskSet is internal: it must not count as a nestable TaskSet in task tables.
setattr(DefaultTaskSet, HOLDER_ATTR, False)
