"""`locust.main` for scripts and locustfiles that import it: loadhopper's command line.

What code imports from it: `main()`, to run the command line from Python (a locustfile
ending in `if __name__ == "__main__": main()`, run with `loadhopper run-script`, or a
wrapper that sets `sys.argv` first); `create_environment(user_classes, options)`, to build
an Environment from parsed options; and `version`. Locust's `main()` exits the process,
and so does this one, with loadhopper's exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from loadhopper import __version__
from loadhopper.cli._main import main as _cli_main
from loadhopper.runtime import Environment, Events
from loadhopper.user import User

__all__ = ["create_environment", "main", "version"]

version = __version__


def main() -> NoReturn:
    """Run loadhopper's command line with `sys.argv[1:]` and exit with its code."""
    sys.exit(_cli_main(sys.argv[1:]))


def create_environment(
    user_classes: Sequence[type[User]],
    options: Any,
    events: Events | None = None,
    shape_class: Any = None,
    locustfile: str | None = None,
    parsed_locustfiles: Any = None,
    available_user_classes: Any = None,
    available_shape_classes: Any = None,
    available_user_tasks: Any = None,
) -> Environment:
    """An Environment from parsed options, as Locust's (the `available_*` are not used).

    Args:
        user_classes: the User classes to run.
        options: the parsed options (an argparse namespace): `host`, `reset_stats`,
            `stop_timeout`, `tags` and `exclude_tags` are read when present.
        events: the event hooks (None: the environment's own).
        shape_class: a LoadTestShape, or None.
        locustfile: the locustfile's path (kept by Locust for its UI; unused here).
        parsed_locustfiles: unused (Locust's UI lists them).
        available_user_classes: unused (Locust's UI class picker).
        available_shape_classes: unused.
        available_user_tasks: unused.
    """
    return Environment(
        user_classes=user_classes,
        shape_class=shape_class,
        events=events,
        host=getattr(options, "host", None),
        reset_stats=bool(getattr(options, "reset_stats", False)),
        stop_timeout=getattr(options, "stop_timeout", None),
        tags=getattr(options, "tags", None),
        exclude_tags=getattr(options, "exclude_tags", None),
        parsed_options=options,
    )
