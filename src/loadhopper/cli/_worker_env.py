"""A Ray worker's Environment, built from the run's arguments exactly as the CLI builds it.

`distributed/_worker.serve` names this module by string (the CLI sits above the
distributed layer). The worker parses the same arguments in the same directory, so its
locustfile, classes, tags, host and limits are the master's.
"""

from __future__ import annotations

import os

from loadhopper.cli._options import parse_options
from loadhopper.cli._parser import build_parser
from loadhopper.distributed._transport import WorkerSpec
from loadhopper.runtime import Environment, events, load_locustfile

__all__ = ["environment_from_spec"]


def environment_from_spec(spec: WorkerSpec) -> Environment:
    """Load the locustfile and parse `spec.argv` in `spec.cwd`; the run's Environment."""
    from loadhopper.cli._main import prepare  # the same checks and Environment as the CLI

    os.chdir(spec.cwd)
    parser = build_parser()
    first = parse_options(spec.argv, parser, strict=False)
    locustfile = load_locustfile(first.locustfile)
    events.init_command_line_parser.fire(parser=parser)
    options = parse_options(spec.argv, parser, strict=True)
    return prepare(locustfile, options)
