"""User: one simulated user, the class every locustfile subclasses."""

from __future__ import annotations

import asyncio
from contextvars import Context
from typing import Any, ClassVar, final

from loadhopper._bridge import await_
from loadhopper._exceptions import ControlFlowSignal, LocustError, StopTest, StopUser
from loadhopper.user._schedule import CURRENT_ITERATION, Arrivals, IterationCell
from loadhopper.user._sleep_queue import sleep_queue
from loadhopper.user._task import collect_tasks
from loadhopper.user._taskset import DefaultTaskSet, call_user_code_async, noop_hook
from loadhopper.user._user_environment import UserEnvironment
from loadhopper.user._user_state import UserState
from loadhopper.user._wait_time import WaitTime, constant

__all__ = ["User"]


def _wake(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)


class _Misuse(LocustError):
    """A control-flow signal escaped a User's own task loop, where it has no meaning."""

    def __init__(self, signal: BaseException) -> None:
        super().__init__(
            f"{type(signal).__name__} reached the User itself; interrupt() only makes sense "
            "inside a nested TaskSet, so this user stopped"
        )


class User:
    """A simulated user: it runs its tasks one after another, waiting `wait_time` between.

    Subclass it (or HttpUser / FastHttpUser) in a locustfile.

    Attributes:
        host: the base URL, e.g. "http://localhost:5001"; `-H/--host` overrides it.
        wait_time: seconds between two tasks (a function such as `between(1, 3)`);
            the default `constant(0)` does not wait.
        tasks: the tasks to pick from: a list, a list of `(task, weight)` pairs, a dict of
            task to weight, and/or methods decorated with `@task`.
        weight: how often this class is picked when users are spawned, relative to others.
        fixed_count: when above 0, exactly this many users of this class are spawned
            (first, before the weighted classes), whatever `weight` says.
        abstract: True for a base class that is not run itself; set automatically to False
            on every subclass that does not set it.
        environment: the environment this user runs in.
    """

    host: ClassVar[str | None] = None
    wait_time: WaitTime | None = constant(0)
    tasks: ClassVar[Any] = ()
    weight: ClassVar[float] = 1
    fixed_count: ClassVar[int] = 0
    abstract: ClassVar[bool] = True
    client: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in vars(cls):
            cls.abstract = False
        cls.tasks = collect_tasks(cls, interleave=False)

    def __init__(self, environment: UserEnvironment) -> None:
        self.environment = environment
        self._state = UserState.READY
        self._sleeping: asyncio.Future[Any] | None = None
        self._taskset_instance: DefaultTaskSet | None = None
        # The contextvars context this user's synchronous code runs in (in borrowed worker
        # greenlets); None until that code first touches a context variable.
        self._context: Context | None = None
        # Set by the runner's pool before the user starts, under a schedule only: where
        # its iterations come from (an arrival rate), and where their lag goes.
        self._arrivals: Arrivals | None = None
        self._iteration: IterationCell | None = None

    @classmethod
    def fullname(cls) -> str:
        """The class's module-qualified name, e.g. `locustfile.WebsiteUser`."""
        return f"{cls.__module__}.{cls.__qualname__}"

    @noop_hook
    def on_start(self) -> None:
        """Called once when the user starts, before its first task (may be `async def`)."""

    @noop_hook
    def on_stop(self) -> None:
        """Called once when the user stops (may be `async def`)."""

    def context(self) -> dict[str, Any]:
        """Extra entries merged into the `context` of every request this user makes."""
        return {}

    def wait(self) -> None:
        """Wait `wait_time()` seconds now, from inside a task; a stopping user stops here."""
        if self._taskset_instance is None:
            raise RuntimeError("wait() can only be called from a running user's task")
        self._taskset_instance.wait()

    @property
    def state(self) -> UserState:
        """Where the user is in its life cycle."""
        return self._state

    @final
    def run(self) -> None:
        """The user's whole life, blocking: only from inside a bridge worker greenlet.

        The runner awaits `_life()` instead, so that a waiting user holds no greenlet;
        this form is kept for callers that run a user with `run_in_greenlet(user.run)`.

        Raises:
            StopTest: when user code asked to stop the whole test (after on_stop ran).
        """
        await_(self._life())

    async def _life(self) -> None:
        """The user's whole life, as a coroutine on the event loop (see `runtime.LocalRunner`).

        Raises:
            StopTest: when user code asked to stop the whole test (after on_stop ran).
        """
        if self._state is UserState.STOPPING:
            # Stopped before it ever ran (the test ended during the ramp).
            self._state = UserState.STOPPED
            return
        self._state = UserState.RUNNING
        cell = self._iteration
        if cell is not None:
            # Both contexts the user's code runs in see the cell (see user/_schedule.py).
            CURRENT_ITERATION.set(cell)
            if self._context is None:
                self._context = Context()
            self._context.run(CURRENT_ITERATION.set, cell)
        taskset = self._taskset_instance = DefaultTaskSet(self)
        try:
            try:
                await call_user_code_async(self, self.on_start)
            except (StopUser, StopTest, asyncio.CancelledError):
                raise
            except Exception as exc:
                signal = self._signal_for(exc)
                if signal is not None:
                    raise signal from exc
                # A user whose on_start failed never started: report it and end without
                # on_stop (Locust ends such a user the same way).
                self.environment.report_user_error(self, exc)
                if not self.environment.catch_exceptions:
                    raise
                return
            try:
                await taskset._loop()
            except (ControlFlowSignal, asyncio.CancelledError) as signal:
                if isinstance(signal, StopUser | StopTest | asyncio.CancelledError):
                    raise
                # RescheduleTask from `interrupt()` on a User's own task: there is no
                # parent to return to, so this user ends, with the misuse reported.
                raise _Misuse(signal) from signal
        except StopUser:
            await self._on_stop_quietly()
        except (StopTest, asyncio.CancelledError):
            await self._on_stop_quietly()
            raise
        except _Misuse as misuse:
            self.environment.report_user_error(self, misuse)
            await self._on_stop_quietly()
            if not self.environment.catch_exceptions:
                raise
        finally:
            self._state = UserState.STOPPED
            self._close_client()

    def _close_client(self) -> None:
        """Release the user's client once it has stopped (HttpUser closes its connections)."""

    def _signal_for(self, exception: BaseException) -> ControlFlowSignal | None:
        """A control-flow signal to raise instead of reporting `exception`, if any.

        HttpUser turns "relative URL but no host" into StopTest: every request would fail
        the same way, so the test ends with one clear message instead.
        """
        return None

    async def _on_stop_quietly(self) -> None:
        self._state = UserState.STOPPING
        try:
            await call_user_code_async(self, self.on_stop)
        except Exception as exc:
            self.environment.report_user_error(self, exc)

    def _sleep(self, seconds: float) -> None:
        """Block the worker running this user's task for `seconds`; `_request_stop()` wakes it."""
        await_(self._interruptible_sleep(seconds))

    async def _interruptible_sleep(self, seconds: float) -> None:
        if seconds <= 0:
            # Still yield once, so that a user whose tasks never do I/O cannot starve others.
            await asyncio.sleep(0)
            return
        future = sleep_queue(asyncio.get_running_loop()).sleep(seconds)
        self._sleeping = future
        try:
            await future
        finally:
            self._sleeping = None

    def _request_stop(self) -> bool:
        """Ask the user to stop after its current task; returns True if it was waiting
        (it is woken, and stops at once)."""
        was_waiting = self._state is UserState.WAITING
        if self._state is not UserState.STOPPED:
            self._state = UserState.STOPPING
        future = self._sleeping
        if future is not None:
            _wake(future)
        return was_waiting
