"""The `loadhopper` command line: Locust's flags, config files, env vars, exit codes."""

from loadhopper.cli._main import main
from loadhopper.cli._options import Options, parse_options
from loadhopper.cli._parser import LocustArgumentParser, build_parser
from loadhopper.cli._timespan import parse_timespan

__all__ = [
    "LocustArgumentParser",
    "Options",
    "build_parser",
    "main",
    "parse_options",
    "parse_timespan",
]
