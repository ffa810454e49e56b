"""The cats demo site: the seed article's sample target, its server, and its locustfile.

`loadhopper cats` calls `cats_main`; `loadhopper demo` and tests start the site in a child
process with `start_cats_process` and load it with the locustfile at `LOCUSTFILE`.
"""

from pathlib import Path

from ._cats_process import CatsProcess, start_cats_process
from ._cats_server import cats_main
from .cats import create_app

__all__ = ["LOCUSTFILE", "CatsProcess", "cats_main", "create_app", "start_cats_process"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
"""The demo locustfile (the seed article's, made robust); it runs under Locust too."""
