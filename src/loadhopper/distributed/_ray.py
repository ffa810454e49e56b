"""The Ray transport: the master is the Ray driver, each worker a Ray actor with one CPU.

Theory of operation (the actor's side is in `_ray_actor.py`):

- `start` connects to Ray ("local" starts a small instance with token auth, "auto" or
  "ray://host:10001" join an existing cluster) with the locustfile's folder as the job's
  `working_dir` (Ray skips `.gitignore` and `.rayignore` matches and caps it at 500 MiB),
  reserves one placement group of `count` one-CPU bundles spread across nodes, and starts
  one actor per bundle. A placement group, not the SPREAD strategy alone, because it is
  placed whole or not at all: a cluster too small for `--workers` is one clear error after
  a bounded wait, instead of actors that stay pending forever.
- Each link has two tasks on the master's loop. The pusher sends what `Link.send` queued as
  one actor call per batch, one call in flight, and holds frames while the actor reports
  more than `INBOUND_LIMIT` unread. The puller calls `pull` every `PULL_INTERVAL` seconds (at
  once again when a pull came back full): that call carries the worker's frames and is the
  liveness check, since a pull on a dead actor raises with Ray's reason.
- The inbox is a bounded queue: a master that stops reading stops the pulls, then the
  actor's outbox fills, then the worker's `send` blocks. Nothing is dropped while running.
- `close` flushes the queued frames, ends each worker's frames, waits up to `CLOSE_GRACE`
  seconds for the workers to end, kills the actors, and disconnects from Ray (which also
  stops a "local" instance). A process already connected to Ray keeps its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any

from loadhopper._exceptions import RayNotInstalled, RayTransportError
from loadhopper.distributed._ray_actor import (
    INBOUND_LIMIT,
    Pulled,
    RayWorkerActor,
)
from loadhopper.distributed._transport import Link, WorkerLost, WorkerSpec, exit_cause

__all__ = ["RayNotInstalled", "RayTransport", "RayTransportError"]

logger = logging.getLogger(__name__)

PULL_INTERVAL = 0.25  # seconds: a window is 1 s, so each is seen within a quarter of it
PULL_TIMEOUT = 60.0  # a pull unanswered this long means the worker is unreachable
PUSH_MAX_BYTES = 4 * 1024 * 1024  # one push call's batch
PENDING_LIMIT = 64 * 1024 * 1024  # frames held for one actor before it counts as lost
PLACEMENT_TIMEOUT = 60.0  # Ray's own node start-up timeout is 60 s (services.py)
BEGIN_TIMEOUT = 300.0  # the first actor on a node waits for the working_dir download
CLOSE_GRACE = 5.0
INBOX_SIZE = 1024
# The object store holds only pull answers above 100 KB; Ray's minimum is 75 MiB.
LOCAL_OBJECT_STORE = 100 * 1024 * 1024
AUTH_MODE = "RAY_AUTH_MODE"  # Ray's only switch for token auth (since 2.52)


class _RayLink:
    """The master's handle on one actor; `send` only queues (the pusher sends)."""

    def __init__(self, name: str, actor: Any, host: str, pid: int) -> None:
        self.name = name
        self.host = host
        self.pid = pid
        self.actor = actor
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.backlog = 0  # the actor's unread frames, as its last answer said
        self.wake = asyncio.Event()  # frames queued, or the backlog went down
        self.lost = False
        self.ended = False

    def send(self, frame: bytes) -> None:
        self.pending.append(frame)
        self.pending_bytes += len(frame)
        self.wake.set()

    def __repr__(self) -> str:
        return f"<RayLink {self.name}>"


class RayTransport:
    """Workers as Ray actors, one CPU each, spread over the cluster's nodes.

    Args:
        address: "local" (start a local Ray instance), "auto" (the cluster this machine is
            part of, or RAY_ADDRESS), or "ray://host:10001" (Ray Client).
        workers: how many workers; None (or 0 given to `start`) for one per CPU the
            cluster offers.
        working_dir: the folder shipped to every worker as its current directory (the
            locustfile's folder).
        entry_point: "module:function" run in each actor, with `serve`'s signature and
            its environment factory bound (the CLI's `serve_cli_worker`; tests name their own).
    """

    def __init__(
        self,
        address: str,
        workers: int | None,
        working_dir: str,
        *,
        entry_point: str,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise RayNotInstalled(
                "--ray needs the ray package: install it with `pip install loadhopper[ray]`."
            ) from exc
        self._ray: Any = ray
        self._address = address
        self._workers = workers
        self._working_dir = os.path.abspath(working_dir)
        self._entry_point = entry_point
        self._links: list[_RayLink] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._inbox: asyncio.Queue[tuple[Link, bytes | WorkerLost] | None] = asyncio.Queue(
            INBOX_SIZE
        )
        self._placement: Any = None
        self._owns_connection = False
        self._closing = False
        self._closed = False

    # Transport

    async def start(self, spec: WorkerSpec, count: int) -> list[Link]:
        """Connect, place `count` workers (0 or None: one per CPU) and start them."""
        await asyncio.to_thread(self._connect)
        wanted = count or self._workers or self._cluster_cpus()
        self._placement = await self._place(wanted)
        strategy = self._ray.util.scheduling_strategies.PlacementGroupSchedulingStrategy
        actor_class = self._ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(
            RayWorkerActor
        )
        worker_spec = self._spec_for_actors(spec)
        actors = [
            actor_class.options(scheduling_strategy=strategy(self._placement, index)).remote(
                worker_spec, self._entry_point
            )
            for index in range(wanted)
        ]
        places = await self._begin(actors)
        for index, (actor, (host, pid)) in enumerate(zip(actors, places, strict=True)):
            link = _RayLink(f"worker {index} (pid {pid} on {host})", actor, host, pid)
            self._links.append(link)
            self._tasks.append(asyncio.create_task(self._pusher(link)))
            self._tasks.append(asyncio.create_task(self._puller(link)))
        return list(self._links)

    async def inbox(self) -> AsyncIterator[tuple[Link, bytes | WorkerLost]]:
        """Every frame each worker sent, in its order, and each worker's loss, once."""
        while (item := await self._inbox.get()) is not None:
            yield item

    async def close(self) -> None:
        """Let the workers end, kill what is left, and disconnect (bounded)."""
        if self._closed:
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_GRACE
        await self._flush(deadline)
        for link in self._live_links():
            with contextlib.suppress(Exception):
                link.actor.end_frames.remote()
        # The pullers return once their worker has ended and been drained.
        pullers = self._tasks[1::2]
        if pullers:
            await asyncio.wait(pullers, timeout=max(0.0, deadline - loop.time()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._closed = True
        await asyncio.to_thread(self._release)
        self._put_closed()

    # Connecting and placing

    def _connect(self) -> None:
        """Connect to Ray (in a worker thread: ray.init blocks for seconds)."""
        ray = self._ray
        if ray.is_initialized():
            return  # the caller owns the connection, and the job's runtime_env with it
        # Actors do not inherit the driver's environment: the variables the run's
        # arguments are read with (LOCUST_*, LOADHOPPER_*) travel with the job.
        env_vars = {
            name: value
            for name, value in os.environ.items()
            if name.startswith(("LOCUST_", "LOADHOPPER_"))
        }
        options: dict[str, Any] = {
            "runtime_env": {"working_dir": self._working_dir, "env_vars": env_vars},
            "logging_level": logging.WARNING,
            # Workers' prints and logs reach this console, as `--processes` children's do.
            "log_to_driver": True,
        }
        if self._address == "local":
            options.update(
                address="local",
                # The workers ask for one logical CPU each: let `--workers` above the core
                # count oversubscribe this machine rather than wait forever.
                num_cpus=max(os.cpu_count() or 1, self._workers or 0),
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE,
            )
        else:
            options["address"] = self._address
        with _quiet_thread_warning():
            try:
                ray.init(**options)
            except ConnectionError as exc:
                raise RayTransportError(
                    f"Could not connect to a Ray cluster at {self._address!r} ({exc}): start "
                    "one with `ray start --head`, or try `--ray local`."
                ) from exc
            except ValueError as exc:  # a working_dir too large or unreadable
                raise RayTransportError(
                    f"Ray could not ship {self._working_dir} as the workers' working "
                    f"directory ({exc}): keep it under 500 MiB, or list what to skip in "
                    ".gitignore or .rayignore."
                ) from exc
        self._owns_connection = True
        # Ray turns token auth on by itself for a new local instance, and only reads
        # RAY_AUTH_MODE (it sets it in this process when it does): one check is exact.
        if os.environ.get(AUTH_MODE, "").lower() != "token":
            where = "local Ray instance" if self._address == "local" else "Ray cluster"
            logger.warning(
                "The %s at %r runs without token authentication: anyone who can reach its "
                "ports can run any code on it; set RAY_AUTH_MODE=token on every node (see "
                "docs/ray.md).",
                where,
                self._address,
            )

    def _cluster_cpus(self) -> int:
        # One worker per CPU, nothing kept back for the master: it only merges a few
        # deltas a second (Locust's `--processes -1` also runs as many workers as cores).
        cpus = int(self._ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise RayTransportError(
                "The Ray cluster offers no CPU for workers: add nodes, or give --workers."
            )
        return cpus

    async def _place(self, count: int) -> Any:
        ray = self._ray
        group = ray.util.placement_group([{"CPU": 1}] * count, strategy="SPREAD")
        try:
            await asyncio.wait_for(group.ready(), PLACEMENT_TIMEOUT)
        except TimeoutError:
            ray.util.remove_placement_group(group)
            cpus = ray.cluster_resources().get("CPU", 0)
            raise RayTransportError(
                f"The Ray cluster could not place {count} workers of one CPU each within "
                f"{PLACEMENT_TIMEOUT:.0f} s (it has {cpus:g} CPUs): give fewer --workers "
                "or add nodes."
            ) from None
        return group

    async def _begin(self, actors: list[Any]) -> list[tuple[str, int]]:
        ray = self._ray
        try:
            places = await asyncio.wait_for(
                asyncio.gather(*(actor.begin.remote() for actor in actors)), BEGIN_TIMEOUT
            )
        except (TimeoutError, ray.exceptions.RayError) as exc:
            for actor in actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
            why = _ray_reason(exc) if not isinstance(exc, TimeoutError) else "timed out"
            raise RayTransportError(f"A Ray worker did not start: {why}") from exc
        return [(str(host), int(pid)) for host, pid in places]

    def _spec_for_actors(self, spec: WorkerSpec) -> WorkerSpec:
        """The spec as seen from an actor, whose current directory is the shipped folder.

        Run from inside the shipped folder (or from the folder itself), the worker starts in
        the same place relative to it, so the arguments' relative paths hold as given. Run
        from elsewhere, it starts at the folder's top and the locustfile paths are rewritten
        relative to it (`-f`, `--locustfile` in argv, and the spec's own).
        """
        cwd = os.path.abspath(spec.cwd)
        if _inside(cwd, self._working_dir):
            return WorkerSpec(spec.argv, os.path.relpath(cwd, self._working_dir), spec.locustfile)
        moved = {
            part: os.path.relpath(path, self._working_dir)
            for part in spec.locustfile.split(",")
            if _inside(path := os.path.abspath(os.path.join(cwd, part)), self._working_dir)
        }

        def rewrite(value: str) -> str:
            return ",".join(moved.get(part, part) for part in value.split(","))

        argv = list(spec.argv)
        for index, arg in enumerate(argv):
            if arg.startswith("--locustfile="):
                argv[index] = "--locustfile=" + rewrite(arg.partition("=")[2])
            elif index and argv[index - 1] in ("-f", "--locustfile"):
                argv[index] = rewrite(arg)
        return WorkerSpec(tuple(argv), ".", rewrite(spec.locustfile))

    # The two tasks of a link

    async def _pusher(self, link: _RayLink) -> None:
        ray = self._ray
        while True:
            await link.wake.wait()
            link.wake.clear()
            if link.pending_bytes > PENDING_LIMIT:
                self._lose(link, "the worker stopped taking the master's frames.")
                return
            while link.pending and link.backlog < INBOUND_LIMIT:
                batch = _take(link.pending, PUSH_MAX_BYTES)
                link.pending_bytes -= sum(map(len, batch))
                try:
                    link.backlog = await link.actor.push.remote(batch)
                except ray.exceptions.RayError as exc:
                    self._lose(link, _ray_reason(exc))
                    return

    async def _puller(self, link: _RayLink) -> None:
        ray = self._ray
        while True:
            try:
                pulled: Pulled = await asyncio.wait_for(link.actor.pull.remote(), PULL_TIMEOUT)
            except TimeoutError:
                self._lose(link, f"the worker did not answer for {PULL_TIMEOUT:.0f} s.")
                return
            except ray.exceptions.RayError as exc:
                self._lose(link, _ray_reason(exc))
                return
            if link.backlog >= INBOUND_LIMIT > pulled.backlog:
                link.wake.set()
            link.backlog = pulled.backlog
            for frame in pulled.frames:
                await self._deliver((link, frame))
            if pulled.ending is not None:
                code, error = pulled.ending
                if error is not None:
                    self._lose(link, f"the worker failed: {error}")
                elif code is not None and code < 0:
                    self._lose(link, exit_cause(code))  # its process was killed
                elif code:
                    self._lose(link, f"the worker ended with exit code {code}.")
                link.ended = True  # a clean end (0, after Quit or its frames' end) is no loss
                return
            if sum(map(len, pulled.frames)) < PUSH_MAX_BYTES:
                await asyncio.sleep(PULL_INTERVAL)

    async def _deliver(self, item: tuple[Link, bytes | WorkerLost]) -> None:
        if self._closing:
            # Nobody may be reading any more: never wait on the master while closing.
            with contextlib.suppress(asyncio.QueueFull):
                self._inbox.put_nowait(item)
            return
        await self._inbox.put(item)

    def _lose(self, link: _RayLink, cause: str) -> None:
        if link.lost or link.ended:
            return
        link.lost = True
        if not self._closing:
            logger.debug("%s lost: %s", link.name, cause)
            # Losses are rare and must not wait behind frames: the queue makes room.
            self._put_urgent((link, WorkerLost(cause)))

    def _put_urgent(self, item: tuple[Link, bytes | WorkerLost] | None) -> None:
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            asyncio.get_running_loop().create_task(self._inbox.put(item))

    def _put_closed(self) -> None:
        # The inbox ends after what is already in it; drop the oldest if it is full.
        if self._inbox.full():
            self._inbox.get_nowait()
        self._inbox.put_nowait(None)

    # Closing

    def _live_links(self) -> Iterator[_RayLink]:
        return (link for link in self._links if not (link.lost or link.ended))

    async def _flush(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while any(link.pending for link in self._live_links()) and loop.time() < deadline:
            await asyncio.sleep(0.02)

    def _release(self) -> None:
        ray = self._ray
        for link in self._links:
            with contextlib.suppress(Exception):
                ray.kill(link.actor, no_restart=True)
        if self._placement is not None:
            with contextlib.suppress(Exception):
                ray.util.remove_placement_group(self._placement)
        if self._owns_connection:
            ray.shutdown()


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _take(pending: deque[bytes], limit: int) -> list[bytes]:
    batch = [pending.popleft()]
    size = len(batch[0])
    while pending and size + len(pending[0]) <= limit:
        frame = pending.popleft()
        size += len(frame)
        batch.append(frame)
    return batch


def _ray_reason(exc: BaseException) -> str:
    """Ray's one-sentence reason from one of its long, multi-line errors."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("The actor is dead because"):
            return line
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _quiet_thread_warning() -> Iterator[None]:
    """Drop Ray's note that it set no SIGTERM handler: not setting one is the point.

    `ray.init` on the main thread replaces the process's SIGTERM handler with one that
    calls `sys.exit`, which would bypass the CLI's own stop; called from a worker thread it
    leaves signals alone and only logs that it did.
    """

    def keep(record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()

    ray_logger = logging.getLogger("ray._private.worker")
    ray_logger.addFilter(keep)
    previous = signal.getsignal(signal.SIGTERM) if _on_main_thread() else None
    try:
        yield
    finally:
        ray_logger.removeFilter(keep)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
