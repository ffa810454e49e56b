"""The `locust` import alias: `from locust import HttpUser` in a locustfile gets ours.

Installing it puts small shim modules (`loadhopper._locust.*`, which re-export
loadhopper's names under Locust's module paths) into `sys.modules` under `locust.*`. Python
looks there before searching the path, so the shims win even when the real Locust is
installed. Nothing is installed on `import loadhopper`: only loading a locustfile does it.

The same goes for `gevent.*` (`loadhopper.runtime._gevent`): Locust runs on gevent, so
locustfiles spawn greenlets, take semaphores and call `gevent.sleep`; the shim schedules
all of that on loadhopper's loop. The real gevent is usually installed too (Locust depends
on it), and would block the loop or fail outright, so the shim wins inside a run; set
`LOADHOPPER_REAL_GEVENT=1` to leave `gevent` alone (for a locustfile that only uses
gevent for something unrelated to its users, at its own risk).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

__all__ = [
    "ALIASED_MODULES",
    "GEVENT_MODULES",
    "REAL_GEVENT_ENV",
    "install_locust_alias",
    "uninstall_locust_alias",
]

_SHIM_PACKAGE = "loadhopper._locust"
_GEVENT_SHIM_PACKAGE = "loadhopper.runtime._gevent"

REAL_GEVENT_ENV = "LOADHOPPER_REAL_GEVENT"
"""Set to 1 (or true, yes) to keep the real `gevent` for locustfiles."""

ALIASED_MODULES = (
    "locust",
    "locust.clients",
    "locust.contrib",
    "locust.contrib.fasthttp",
    "locust.debug",
    "locust.env",
    "locust.event",
    "locust.exception",
    "locust.log",
    "locust.main",
    "locust.runners",
    "locust.shape",
    "locust.stats",
    "locust.user",
    "locust.user.inspectuser",
    "locust.user.markov_taskset",
    "locust.user.sequential_taskset",
    "locust.user.task",
    "locust.user.users",
    "locust.user.wait_time",
    "locust.util",
    "locust.util.timespan",
)
"""The Locust module paths that resolve to loadhopper's shims."""

GEVENT_MODULES = (
    "gevent",
    "gevent.event",
    "gevent.greenlet",
    "gevent.lock",
    "gevent.monkey",
    "gevent.pool",
    "gevent.queue",
    "gevent.timeout",
)
"""The gevent module paths that resolve to loadhopper's gevent shim (unless opted out)."""


def _aliases() -> dict[str, str]:
    """Each aliased module name and the shim module it resolves to."""
    aliases = {name: _SHIM_PACKAGE + name[len("locust") :] for name in ALIASED_MODULES}
    real_gevent = os.environ.get(REAL_GEVENT_ENV, "").strip().lower() in ("1", "true", "yes")
    if not real_gevent:
        aliases.update({n: _GEVENT_SHIM_PACKAGE + n[len("gevent") :] for n in GEVENT_MODULES})
    return aliases


def install_locust_alias() -> dict[str, ModuleType | None]:
    """Make `import locust...` (and `import gevent...`) resolve to loadhopper's shims.

    Returns:
        What those `sys.modules` entries held before, for `uninstall_locust_alias`.
    """
    aliases = _aliases()
    previous = {name: sys.modules.get(name) for name in aliases}
    for name, shim in aliases.items():
        sys.modules[name] = importlib.import_module(shim)
    return previous


def uninstall_locust_alias(previous: dict[str, ModuleType | None]) -> None:
    """Put back the `sys.modules` entries `install_locust_alias` replaced."""
    for name, module in previous.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
