"""TaskSet and SequentialTaskSet: groups of tasks, nestable, with their own life cycle.

Theory of operation. A user's life is a coroutine on the event loop. Its task loop
(`TaskSet._loop`) picks a task, runs it, waits, repeats; a user waiting between two tasks
holds no greenlet, only this coroutine and an entry in the loop's `SleepQueue`. How a task
runs depends on its kind:

- a nested TaskSet class: its own loop is awaited, and returns to the parent only through
  `InterruptTaskSet` (`self.interrupt()`), converted on the way out into `RescheduleTask` /
  `RescheduleTaskImmediately` for the parent;
- an `async def`: called and awaited in the loop coroutine itself, no greenlet at all;
- anything else is synchronous user code: it borrows a worker greenlet from the bridge's
  pool for its duration, and the loop coroutine serves its `await_` calls (inlined here,
  as the per-request hot path: one greenlet switch pair per task, no extra coroutine).

Tasks in a row. An HTTP request parks its worker, and the connection's callback resumes it
directly (`_bridge`, "Parking"), so the loop coroutine does not run between the request and
the end of the task. When the next task could follow at once (a built-in wait of zero, no
schedule, nothing queued, the user not stopping, and the task is synchronous code that did
park), the worker goes on to it by itself (`_run_tasks`): consecutive tasks cost two
greenlet switches per request and no Future, Task step or pass through this loop. Anything
else (a wait to sleep, another kind of task, an exception) hands back to the loop, which
goes on exactly as if it had run those tasks itself.

`StopUser`, `StopTest` and cancellation unwind every level, each running its `on_stop`.
Any other exception in a task is reported through the environment and the loop goes on
after a wait, as Locust does with `catch_exceptions=True`.

A wait of zero does not yield to the event loop when the task awaited something (others
ran meanwhile); it yields once when the task did not, so a user whose tasks never do I/O
cannot starve the others. `async def` tasks and nested TaskSets count as not having
awaited (their awaits are not seen from here), so their zero waits always yield.

The sync methods `run()`, `execute_task()`, `execute_next_task()` and `wait()` keep
Locust's blocking API for code running inside a task (a bridge worker): they block that
worker through `await_`. A TaskSet subclass overriding `execute_task` gets it called, in a
worker, for every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import greenlet

from loadhopper._bridge import (
    PARKED,
    Worker,
    await_,
    await_park,
    call_in_worker,
    cancel_parked,
    worker_pool,
)
from loadhopper._exceptions import (
    InterruptTaskSet,
    LocustError,
    MissingWaitTimeError,
    RescheduleTask,
    RescheduleTaskImmediately,
    StopTest,
    StopUser,
)
from loadhopper.user._schedule import Pacing, pacing_of
from loadhopper.user._sleep_queue import sleep_queue
from loadhopper.user._task import (
    HOLDER_ATTR,
    Task,
    TaskPicker,
    collect_tasks,
    holder_tags,
    is_task_holder,
)
from loadhopper.user._user_state import UserState

if TYPE_CHECKING:
    from loadhopper.user._user import User
    from loadhopper.user._user_environment import UserEnvironment

__all__ = [
    "DefaultTaskSet",
    "SequentialTaskSet",
    "TaskSet",
    "call_user_code",
    "call_user_code_async",
    "noop_hook",
]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

# The exceptions that end a task loop and unwind to the user (running on_stop on the way).
_UNWIND = (StopUser, StopTest, asyncio.CancelledError)

_NOOP_ATTR = "_loadhopper_noop_hook"


def noop_hook(fn: F) -> F:
    """Mark a base class's empty hook, so that it is skipped rather than run in a worker."""
    setattr(fn, _NOOP_ATTR, True)
    return fn


class _Kind(enum.Enum):
    """How the task loop runs a task."""

    SYNC = "sync"  # in a borrowed worker greenlet
    ASYNC = "async"  # awaited in the loop coroutine
    NESTED = "nested"  # a TaskSet class: its own loop


# The kind of each task function or TaskSet class seen in a task table, so that the hot
# loop classifies a task with one dict lookup. Bounded, in case a custom get_next_task()
# hands out a new function every time.
_KINDS: dict[Any, _Kind] = {}
_MAX_KINDS = 4096


def _classify(task: Task) -> _Kind:
    if is_task_holder(task):
        return _Kind.NESTED
    if inspect.iscoroutinefunction(task):
        return _Kind.ASYNC
    return _Kind.SYNC


def call_user_code(fn: Callable[..., Any], *args: Any) -> Any:
    """Call user code from inside a worker; if it returns an awaitable, await it on the loop."""
    result = fn(*args)
    # Sync tasks return None: test that first, so the common case costs one comparison.
    if result is not None and inspect.isawaitable(result):
        return await_(result)
    return result


async def call_user_code_async(user: User, fn: Callable[..., Any], *args: Any) -> Any:
    """Call user code from the user's coroutine: await an `async def`, run the rest in a worker.

    The worker runs in the user's own contextvars context, which persists across its calls.
    """
    if getattr(fn, _NOOP_ATTR, False):
        return None
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result, user._context = await call_in_worker(fn, args, user._context)
    if result is not None and inspect.isawaitable(result):
        return await result
    return result


class TaskSet:
    """A group of tasks a user runs; nest it by listing it in a User's or TaskSet's tasks.

    Attributes:
        tasks: the tasks to pick from: a list, a list of `(task, weight)` pairs, a dict of
            task to weight, and/or methods decorated with `@task`.
        user: the User instance running this TaskSet.
        parent: the User or TaskSet that started this TaskSet.
    """

    # Slots keep the internal DefaultTaskSet (one per user) small; subclasses written in
    # locustfiles get a __dict__ as usual, so they may set any attribute.
    __slots__ = ("_picker", "_tags", "_task_queue", "parent", "user")

    tasks: ClassVar[Any] = ()
    _loadhopper_task_holder: ClassVar[bool] = True
    _interleave_tasks: ClassVar[bool] = False

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
        self._tags: frozenset[str] = holder_tags(type(self), inherited)
        # Created on the first schedule_task(): most task sets never queue anything.
        self._task_queue: list[Task] | None = None
        self._picker: TaskPicker = self.user.environment.task_filter.picker(type(self), self._tags)

    @property
    def client(self) -> Any:
        """The user's client (an HttpSession for HttpUser and FastHttpUser)."""
        return self.user.client

    @property
    def environment(self) -> UserEnvironment:
        """The environment the user runs in."""
        return self.user.environment

    @noop_hook
    def on_start(self) -> None:
        """Called when the user starts running this TaskSet (may be `async def`)."""

    @noop_hook
    def on_stop(self) -> None:
        """Called when the TaskSet stops: interrupted, or the user stops (may be `async def`)."""

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
        if self._task_queue is None:
            self._task_queue = []
        if first:
            self._task_queue.insert(0, task_callable)
        else:
            self._task_queue.append(task_callable)

    def get_next_task(self) -> Task:
        """Pick the next task by weight."""
        picker = self._picker
        only = picker.only  # one task: no draw (nor two calls) per task
        if only is not None:
            return only
        if not picker.tasks:
            raise NoTasksError(self._holder_name())
        return picker.pick()

    def execute_next_task(self) -> None:
        """Run the first queued task, blocking (only from inside a task)."""
        queue = self._task_queue
        self.execute_task(queue.pop(0) if queue else self.get_next_task())

    def execute_task(self, task: Task) -> None:
        """Run one task, blocking (only from inside a task; the loop does not call this
        unless a subclass overrides it)."""
        if is_task_holder(task):
            task(self._nested_parent()).run()
        else:
            call_user_code(task, *self._args_for(task))

    def run(self) -> NoReturn:
        """The task loop, blocking (only from inside a task; a user runs `_loop` itself)."""
        await_(self._loop())
        raise AssertionError("unreachable: the task loop only ends by raising")

    def wait(self) -> None:
        """Wait `wait_time()` seconds, blocking (from inside a task); a stopping user stops."""
        user = self.user
        if user._state is UserState.STOPPING:
            raise StopUser()
        user._state = UserState.WAITING
        user._sleep(self.wait_time())
        if user._state is UserState.STOPPING:
            raise StopUser()
        user._state = UserState.RUNNING

    def _holder_name(self) -> str:
        return type(self).__name__

    def _task_target(self) -> Any:
        """The object task functions receive: the TaskSet (the User, for a User's tasks)."""
        return self

    def _nested_parent(self) -> User | TaskSet:
        """The parent a nested TaskSet started from here gets."""
        return self

    def _args_for(self, task: Task) -> tuple[Any, ...]:
        """What a task is called with: nothing for a method bound to this TaskSet (Locust's
        rule), the TaskSet (or User) otherwise."""
        if getattr(task, "__self__", None) is self:
            return ()
        return (self._task_target(),)

    def _plan(self, task: Task, cache: bool) -> tuple[_Kind, tuple[Any, ...]]:
        """The kind of a task the cache does not know, and its arguments."""
        kind = _classify(task)
        if cache and not hasattr(task, "__self__") and len(_KINDS) < _MAX_KINDS:
            # An unhashable callable is classified again each time.
            with contextlib.suppress(TypeError):
                _KINDS[task] = kind
        return kind, self._args_for(task)

    async def _loop(self) -> NoReturn:
        """The task loop as a coroutine. It returns only by raising (see the module docstring).

        One piece on purpose: this is the per-request hot path, and every helper call or
        nested coroutine here would be paid by every task of every user. The worker drive
        is the same loop as `_bridge.call_in_worker`, inlined.
        """
        try:
            await call_user_code_async(self.user, self.on_start)
        except InterruptTaskSet as exc:
            raise _reschedule(exc) from exc
        user = self.user
        pool = worker_pool()
        sleeper = sleep_queue(asyncio.get_running_loop())
        target_args = (self._task_target(),)
        custom_execute = type(self).execute_task is not TaskSet.execute_task
        # Decided once, after on_start (which may set its own wait): a built-in wait is a
        # cheap pure function called right here, anything else is user code that may sleep.
        wait_in_worker = _wait_is_user_code(self)
        # Under a schedule (decided once; see user/_schedule.py) each task gets its lag in
        # the user's cell: under an arrival rate every wait is "wait for my next arrival"
        # (the user's own first task included), under a pacing wait the intended start is
        # the last start plus the period. Without a schedule `cell` is None and this
        # costs two local tests per task.
        cell = user._iteration
        arrivals = user._arrivals if cell is not None else None
        pacing = _pacing(self) if cell is not None and arrivals is None else None
        paced_start: float | None = None
        wait_next = arrivals is not None and self is user._taskset_instance
        did_io = False
        # Whether the worker may run the following tasks by itself (see "Tasks in a row").
        in_row = cell is None and not custom_execute and not wait_in_worker
        pending_wait: float | None = None  # a wait the worker already drew
        picked: Task | None = None  # a task the worker already picked
        cancelled: BaseException | None = None
        while True:
            try:
                if wait_next:
                    if user._state is UserState.STOPPING:
                        raise StopUser()
                    user._state = UserState.WAITING
                    if arrivals is not None:
                        assert cell is not None
                        due = arrivals.take(user)
                        if type(due) is float:
                            intended: float | None = due
                            if not did_io:
                                await asyncio.sleep(0)
                        else:
                            # A free user: the dispatcher resolves this future with the
                            # next arrival, `User._request_stop()` with None.
                            user._sleeping = due  # type: ignore[assignment]
                            try:
                                intended = await due  # type: ignore[misc]
                            finally:
                                user._sleeping = None
                        del due
                        if intended is None:
                            raise StopUser()
                        cell.lag_ms = max(0.0, arrivals.now() - intended) * 1000.0
                    else:
                        if pending_wait is not None:
                            seconds, pending_wait = pending_wait, None
                        elif wait_in_worker:
                            seconds = await call_user_code_async(user, self.wait_time)
                        else:
                            seconds = self.wait_time()
                        if seconds > 0:
                            # An interruptible sleep: `User._request_stop()` wakes the future.
                            future = sleeper.sleep(seconds)
                            user._sleeping = future
                            try:
                                await future
                            finally:
                                user._sleeping = None
                            del future
                        elif not did_io:
                            await asyncio.sleep(0)
                    if user._state is UserState.STOPPING:
                        raise StopUser()
                    user._state = UserState.RUNNING
                wait_next = True
                did_io = False
                if pacing is not None:
                    assert cell is not None
                    now = pacing[1]()
                    # The first task has no intended start: it starts when the user does.
                    late = 0.0 if paced_start is None else now - paced_start - pacing[0]
                    cell.lag_ms = max(0.0, late) * 1000.0
                    paced_start = now
                queue = self._task_queue
                if picked is not None:
                    task, picked = picked, None
                    try:
                        kind = _KINDS[task]
                        args = target_args
                    except (KeyError, TypeError):
                        kind, args = self._plan(task, cache=True)
                elif queue:
                    task = queue.pop(0)
                    kind, args = self._plan(task, cache=False)
                else:
                    task = self.get_next_task()
                    try:
                        kind = _KINDS[task]
                        args = target_args
                    except (KeyError, TypeError):
                        kind, args = self._plan(task, cache=True)
                if user._state is UserState.STOPPING:
                    raise StopUser()
                if custom_execute:
                    kind, args, task = _Kind.SYNC, (task,), self.execute_task
                if kind is _Kind.SYNC:
                    worker = pool.acquire(user._context)
                    try:
                        if in_row:
                            value = worker.start(_run_tasks, (self, task, args, target_args))
                        else:
                            value = worker.start(task, args)
                        while worker.busy:
                            did_io = True
                            if value is PARKED:  # a callback resumes it; we hear when it is done
                                try:
                                    value = await await_park(worker)
                                except GeneratorExit:
                                    worker.parked = False  # no callback may resume it now
                                    raise
                                except BaseException as exc:
                                    value = cancel_parked(worker, exc)
                                    if not worker.busy:
                                        cancelled = exc  # raised once the worker is back
                                continue
                            try:
                                result = await value
                            except GeneratorExit:
                                raise  # the coroutine is being closed: abandon the worker
                            except BaseException as exc:
                                value = worker.fail(exc)
                            else:
                                value = worker.resume(result)
                    except BaseException:
                        pool.abandon(worker)
                        raise
                    user._context = worker.gr_context
                    # Clearing `result` drops the last awaited value (a Response), which
                    # must not live on through the wait, even when the task raised;
                    # deleting `worker` keeps a worker dropped by the pool from doing so.
                    result = None
                    try:
                        result = pool.finish(worker)  # raises what the task raised
                    finally:
                        del worker
                    if cancelled is not None:
                        stopped, cancelled = cancelled, None
                        raise stopped
                    if in_row and result is not None:
                        # The worker handed back early (see `_run_tasks`).
                        result, pending_wait, picked = result
                    if result is not None and inspect.isawaitable(result):
                        await result
                elif kind is _Kind.ASYNC:
                    await task(*args)
                else:
                    await task(self._nested_parent())._loop()
            except RescheduleTaskImmediately:
                wait_next = False
            except RescheduleTask:
                pass
            except InterruptTaskSet as exc:
                await self._on_stop_quietly(propagate=(StopUser, StopTest))
                raise _reschedule(exc) from exc
            except _UNWIND:
                await self._on_stop_quietly(propagate=())
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

    async def _on_stop_quietly(self, propagate: tuple[type[BaseException], ...]) -> None:
        try:
            await call_user_code_async(self.user, self.on_stop)
        except propagate:
            raise
        except Exception as exc:
            self.user.environment.report_user_error(self.user, exc)


def _run_tasks(
    taskset: TaskSet, task: Task, args: tuple[Any, ...], target_args: tuple[Any, ...]
) -> tuple[Any, float | None, Task | None] | None:
    """Run `task(*args)` in the worker, then the tasks after it while they can follow at once.

    See "Tasks in a row" in the module docstring. Returns None when the loop goes on as
    after any task, else what it must know: the last task's return value, a wait already
    drawn, and a task already picked. An exception ends the run and reaches the loop as the
    last task's own. A task that did not park did no I/O here, or did it through `await_`,
    which the loop saw: either way the loop's own rule for a zero wait applies, so the run
    ends.
    """
    user = taskset.user
    while True:
        # The worker's count of parks, read without keeping the worker in this frame (see
        # `_bridge._serve`): it moved if the task did I/O.
        parks = _getcurrent().parks
        result = task(*args)
        if result is not None:
            return (result, None, None)
        if _getcurrent().parks == parks:
            return None
        if user._state is not UserState.RUNNING or taskset._task_queue:
            return None
        user._state = UserState.WAITING  # as the loop does while it draws a wait
        seconds = taskset.wait_time()
        user._state = UserState.RUNNING
        if seconds > 0:
            return (None, seconds, None)
        task = taskset.get_next_task()
        try:
            kind = _KINDS[task]
        except (KeyError, TypeError):
            kind = None
        if kind is not _Kind.SYNC:
            return (None, seconds, task)
        args = target_args


# The calling worker (a `_bridge.Worker`: only workers run `_run_tasks`), called directly
# rather than through a typed helper: the task loop reads it twice per task.
_getcurrent: Callable[[], Worker] = greenlet.getcurrent


# The modules whose wait functions are loadhopper's own (between, constant, poisson, ...):
# pure arithmetic that never blocks, so the task loop calls them directly on the loop.
_BUILTIN_WAIT_PREFIX = "loadhopper."


def _is_builtin_wait(fn: object) -> bool:
    module = getattr(getattr(fn, "__func__", fn), "__module__", None)
    return isinstance(module, str) and module.startswith(_BUILTIN_WAIT_PREFIX)


def _pacing(taskset: TaskSet) -> Pacing | None:
    """The pacing of this TaskSet's waits (constant_pacing / constant_throughput), if any."""
    method = type(taskset).wait_time
    if method is not TaskSet.wait_time:
        return pacing_of(method)
    return pacing_of(getattr(taskset.user, "wait_time", None))


def _wait_is_user_code(taskset: TaskSet) -> bool:
    """Whether this TaskSet's waits run user code, which must be called in a worker.

    A locustfile's own wait (a `wait_time` method, or any function that is not one of
    loadhopper's) may call `time.sleep` or do I/O: on the loop itself that would stall
    every user, so it is called like a task. Missing waits stay direct: they raise.
    """
    method = type(taskset).wait_time
    if method is not TaskSet.wait_time:
        return not _is_builtin_wait(method)
    user_wait = getattr(taskset.user, "wait_time", None)
    return user_wait is not None and not _is_builtin_wait(user_wait)


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

    __slots__ = ("_cycle", "_sequence")

    _interleave_tasks: ClassVar[bool] = True

    def __init__(self, parent: User | TaskSet) -> None:
        super().__init__(parent)
        sequence: list[Task] = []
        table = self.user.environment.task_filter.table(type(self), self._tags)
        for entry, weight in table:
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

    __slots__ = ()

    def __init__(self, user: User) -> None:
        # Built directly rather than through TaskSet.__init__: the table is the User class's.
        self.user = user
        self.parent = user
        self._tags = holder_tags(type(user), frozenset())
        self._task_queue = None
        self._picker = user.environment.task_filter.picker(type(user), self._tags)

    def _task_target(self) -> Any:
        return self.user

    def _nested_parent(self) -> User | TaskSet:
        return self.user

    def _holder_name(self) -> str:
        return type(self.user).__name__

    def _args_for(self, task: Task) -> tuple[Any, ...]:
        # Locust's rule for a User's own tasks: any bound method is called as it is.
        if hasattr(task, "__self__"):
            return ()
        return (self.user,)


# DefaultTaskSet is internal: it must not count as a nestable TaskSet in task tables.
setattr(DefaultTaskSet, HOLDER_ATTR, False)
