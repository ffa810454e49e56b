import sys
import tempfile
from collections.abc import Iterator

import pytest

from user.loopback_server import LoopbackServer, running_server


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def clean_locust_modules() -> Iterator[None]:
    """Undo the `locust` alias (and locustfile modules) a test installs."""
    before = dict(sys.modules)
    path = list(sys.path)
    yield
    temp = tempfile.gettempdir()
    for name, module in list(sys.modules.items()):
        if name in before:
            continue
        where = getattr(module, "__file__", None) or ""
        if name.startswith("locust") or where.startswith(temp):
            del sys.modules[name]
    sys.modules.update({k: v for k, v in before.items() if k.startswith("locust")})
    sys.path[:] = path
