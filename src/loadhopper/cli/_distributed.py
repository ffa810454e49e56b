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
from typing import Any

from loadhopper._exceptions import ConfigError
from loadhopper.cli._options import Options
from loadhopper.distributed import MasterRunner, WorkerSpec
from loadhopper.distributed._pipes import PipeTransport
from loadhopper.distributed._transport import Transport
from loadhopper.runtime import Environment

__all__ = ["close_workers", "distributed_runner", "worker_count"]

RAY_MISSING = "--ray needs Ray, which is not installed; run `pip install loadhopper[ray]`."


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


def _ray_transport(options: Options) -> Transport:
    try:
        from loadhopper.distributed import _ray
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "ray":
            raise ConfigError(RAY_MISSING) from None
        raise
    factory: Any = _ray.RayTransport
    transport: Transport = factory(
        address=options.ray,
        workers=options.workers,
        working_dir=os.path.dirname(os.path.abspath(options.locustfile)),
    )
    return transport


async def close_workers(env: Environment) -> None:
    """Quit the workers of a distributed run (nothing for a local one)."""
    runner = env.runner
    if isinstance(runner, MasterRunner):
        await runner.aclose()
