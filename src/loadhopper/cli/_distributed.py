"""`--processes N` and `--ray ADDRESS`: the master runner and its transport, for a CLI run.

The run's Environment is built as for one process; the runner is then a `MasterRunner`
over forked children (`--processes`, forked here, before any event loop exists) or Ray
actors (`--ray`). Exit codes are those of a one-process run: a lost worker is reported
(console, JSON `workers`, UI) but does not change the code, since its counted requests stay
counted and its users ran on; a run whose every worker was lost stops, and its code
follows its results too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from loadhopper.cli._options import Options
from loadhopper.cli._worker_env import ENTRY_POINT
from loadhopper.distributed import MasterRunner, WorkerSpec
from loadhopper.distributed._pipes import PipeTransport
from loadhopper.distributed._ray import RayTransport
from loadhopper.distributed._transport import Transport
from loadhopper.runtime import Environment

__all__ = ["close_workers", "distributed_runner", "shipped_folder", "worker_count"]


def worker_count(options: Options) -> int:
    """The worker processes `--processes` asks for (-1: one per CPU core)."""
    processes = options.processes or 0
    return (os.cpu_count() or 1) if processes == -1 else processes


def distributed_runner(env: Environment, options: Options, argv: Sequence[str]) -> MasterRunner:
    """The master of this run, its workers forked (`--processes`) or to come (`--ray`)."""
    spec = WorkerSpec(argv=tuple(argv), cwd=os.getcwd(), locustfile=options.locustfile)
    transport: Transport
    if options.ray is not None:
        transport = _ray_transport(options)
        count = options.workers or 0
    else:
        count = worker_count(options)
        # The children are copies of this process with the run already built: each one
        # serves the same Environment object, now its own.
        transport = PipeTransport.fork_workers(spec, count, lambda _spec: env)
    return MasterRunner(env, transport, spec, count)


def shipped_folder(cwd: str, locustfile: str) -> str:
    """The folder a Ray run ships to its workers as their working directory.

    The run's directory when every locustfile is inside it, so that `locust.conf`, data
    files and modules next to it travel, as a Locust user running from a project folder
    expects; otherwise the (first) locustfile's own folder.
    """
    cwd = os.path.abspath(cwd)
    paths = [os.path.abspath(os.path.join(cwd, part)) for part in locustfile.split(",") if part]
    if all(os.path.commonpath([path, cwd]) == cwd for path in paths):
        return cwd
    first = paths[0]
    return first if os.path.isdir(first) else os.path.dirname(first)


def _ray_transport(options: Options) -> Transport:
    # Without the ray package this raises RayNotInstalled, a ConfigError: exit 2, one line.
    transport: Transport = RayTransport(
        address=options.ray or "auto",
        workers=options.workers,
        working_dir=shipped_folder(os.getcwd(), options.locustfile),
        entry_point=ENTRY_POINT,
    )
    return transport


async def close_workers(env: Environment) -> None:
    """Quit the workers of a distributed run (nothing for a local one)."""
    runner = env.runner
    if isinstance(runner, MasterRunner):
        await runner.aclose()
