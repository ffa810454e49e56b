"""`gevent.monkey` for locustfiles run by loadhopper: every patch is a harmless no-op.

loadhopper never patches the standard library: users run on one asyncio loop, and what a
locustfile needs of gevent's patches (a `time.sleep` that pauses only its user) is done
for the length of a run (see `runtime/_sleep_patch.py`). Locustfiles written for Locust
often call `patch_all()` first; here it changes nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "is_anything_patched",
    "is_module_patched",
    "is_object_patched",
    "patch_all",
    "patch_dns",
    "patch_os",
    "patch_queue",
    "patch_select",
    "patch_signal",
    "patch_socket",
    "patch_ssl",
    "patch_subprocess",
    "patch_sys",
    "patch_thread",
    "patch_time",
]


def patch_all(*args: Any, **kwargs: Any) -> bool:
    """Patch nothing (loadhopper needs no patching); returns True, as gevent's on success."""
    return True


def _patch_nothing(*args: Any, **kwargs: Any) -> None:
    """Patch nothing (loadhopper needs no patching)."""


patch_dns = patch_os = patch_queue = patch_select = patch_signal = _patch_nothing
patch_socket = patch_ssl = patch_subprocess = patch_sys = patch_thread = _patch_nothing
patch_time = _patch_nothing


def is_module_patched(name: str) -> bool:
    """False: nothing is ever patched."""
    return False


def is_object_patched(module_name: str, name: str) -> bool:
    """False: nothing is ever patched."""
    return False


def is_anything_patched() -> bool:
    """False: nothing is ever patched."""
    return False
