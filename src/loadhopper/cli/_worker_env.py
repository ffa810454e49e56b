"""A Ray worker's run, built from the run's arguments exactly as the CLI builds it.

`serve_cli_worker` is the entry point the CLI gives `RayTransport` (by name: the actor
imports it on its node), so the distributed layer never reaches up into the CLI. The worker
loads the master's locustfile (`spec.locustfile`, which may
have come from a config file or `LOCUST_LOCUSTFILE` rather than `-f`) and parses the same
arguments in the same directory, so its classes, tags, host and limits are the master's.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable

from loadhopper.cli._options import parse_options
from loadhopper.cli._parser import build_parser
from loadhopper.distributed import serve
from loadhopper.distributed._transport import WorkerSpec
from loadhopper.runtime import Environment, events, load_locustfile

__all__ = ["ENTRY_POINT", "environment_from_spec", "serve_cli_worker"]

ENTRY_POINT = f"{__name__}:serve_cli_worker"
"""What a Ray actor runs, as `module:function`."""


def environment_from_spec(spec: WorkerSpec) -> Environment:
    """Load `spec.locustfile` and parse `spec.argv` in `spec.cwd`; the run's Environment."""
    from loadhopper.cli._main import prepare  # the same checks and Environment as the CLI

    os.chdir(spec.cwd)
    parser = build_parser()
    locustfile = load_locustfile(spec.locustfile)
    events.init_command_line_parser.fire(parser=parser)
    options = parse_options(spec.argv, parser, strict=True)
    return prepare(locustfile, options)


async def serve_cli_worker(
    spec: WorkerSpec, frames: AsyncIterator[bytes], send: Callable[[bytes], None]
) -> int:
    """Serve the master as a worker whose run is built from `spec` as the CLI builds it."""
    return await serve(spec, frames, send, environment_factory=environment_from_spec)
