# Room on the C stack below a greenlet's start (_stackroom.c); absent where it could not be built.
from collections.abc import Callable
from typing import Any

def call_below(room: int, fn: Callable[..., Any], /, *args: Any) -> Any: ...
