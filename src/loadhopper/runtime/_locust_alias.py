"""The `locust` import alias: `from locust import HttpUser` in a locustfile gets ours.

Installing it puts small shim modules (`loadhopper.runtime._locust.*`, which re-export
loadhopper's names under Locust's module paths) into `sys.modules` under `locust.*`. Python
looks there before searching the path, so the shims win even when the real Locust is
installed. Nothing is installed on `import loadhopper`: only loading a locustfile does it.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["ALIASED_MODULES", "install_locust_alias", "uninstall_locust_alias"]

_SHIM_PACKAGE = "loadhopper.runtime._locust"

ALIASED_MODULES = (
    "locust",
    "locust.clients",
    "locust.contrib",
    "locust.contrib.fasthttp",
    "locust.debug",
    "locust.env",
    "locust.event",
    "locust.exception",
    "locust.runners",
    "locust.stats",
    "locust.user",
    "locust.user.task",
    "locust.user.wait_time",
)
"""The Locust module paths that resolve to loadhopper's shims."""


def install_locust_alias() -> dict[str, ModuleType | None]:
    """Make `import locust...` resolve to loadhopper's shims.

    Returns:
        What those `sys.modules` entries held before, for `uninstall_locust_alias`.
    """
    previous = {name: sys.modules.get(name) for name in ALIASED_MODULES}
    for name in ALIASED_MODULES:
        sys.modules[name] = importlib.import_module(_SHIM_PACKAGE + name[len("locust") :])
    return previous


def uninstall_locust_alias(previous: dict[str, ModuleType | None]) -> None:
    """Put back the `sys.modules` entries `install_locust_alias` replaced."""
    for name, module in previous.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
