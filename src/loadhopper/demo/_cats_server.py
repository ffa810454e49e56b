"""`loadhopper cats`: serve the cats site alone, like `python cats.py` in the seed.

The listening socket is bound here, before uvicorn starts, for two reasons: a taken port becomes
one clear line and exit code 1 instead of a uvicorn traceback, and with `--port 0` the port
the kernel picked is known in time to print it. Connections that arrive between the print and
uvicorn's first accept wait in the socket's backlog, so a reader of the printed line may
connect at once.
"""

from __future__ import annotations

import argparse
import errno
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from apsw import Error as SQLiteError

from .cats import create_app

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "READY_PREFIX", "cats_main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5001  # the seed's `serve()` default, which its locustfile's host points at
# The first words of the line printed once the site listens; `start_cats_process` reads it.
READY_PREFIX = "cats site on "
# uvicorn's default accept backlog: enough for thousands of users connecting at once.
_BACKLOG = 2048
# Longer than any think time a locustfile is likely to use (the demo waits 2-5 s), so that the
# server never closes an idle keep-alive connection just as a user sends on it. 75 s is nginx's
# keepalive_timeout default.
_KEEP_ALIVE_S = 75


def cats_main(argv: list[str]) -> int:
    """Serve the cats site until Ctrl-C or SIGTERM.

    Args:
        argv: the arguments after `loadhopper cats` (`--host`, `--port`, `--db`).

    Returns:
        The exit code: 0 after a clean stop, 1 when the site cannot start, 2 for bad arguments.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error that argparse has already printed
        return exc.code if isinstance(exc.code, int) else 2
    db_arg: str | None = args.db
    if db_arg is not None and (problem := _db_path_problem(Path(db_arg))) is not None:
        return _fail(problem)
    try:
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _fail(_listen_problem(args.host, args.port, exc))
    with sock, _database(db_arg) as db_path:
        try:
            app = create_app(db_path)
        except SQLiteError as exc:
            return _fail(f"cannot use {db_path} as a SQLite database ({exc}): pick another --db.")
        if not _serve(app, sock, ready_line=f"{READY_PREFIX}{_url(sock)} (database: {db_path})"):
            return _fail("the cats site failed to start: see the error above.")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadhopper cats",
        description="Serve the cats demo site (the seed article's sample target).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port to listen on (0: pick a free one)"
    )
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file to use (default: a fresh temporary file, deleted at exit)",
    )
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0 to 65535")
    return port


def _db_path_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"--db {path} is a directory: give the path of a file inside it."
    if not path.parent.is_dir():
        return f"--db {path}: directory {path.parent} does not exist; create it first."
    return None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    # create_server sets SO_REUSEADDR on POSIX (restart while old connections sit in TIME_WAIT)
    # but not SO_REUSEPORT, so a port another server listens on is still refused.
    return socket.create_server((host, port), family=family, backlog=_BACKLOG)


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: stop the program using it, "
            "or pick another port with --port (0 picks a free one)."
        )
    return f"cannot listen on {host} port {port} ({exc.strerror or exc}): check --host and --port."


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def _database(db_arg: str | None) -> Iterator[Path]:
    if db_arg is not None:
        yield Path(db_arg)
        return
    # A directory rather than a file: SQLite adds -wal and -shm files beside the database.
    directory = Path(tempfile.mkdtemp(prefix="loadhopper-cats-"))
    try:
        yield directory / "cats.db"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _serve(app: Any, sock: socket.socket, ready_line: str) -> bool:
    """Print `ready_line`, then serve on `sock` until a stop signal; False if the app failed."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # one line per request would cost more than the request itself
        timeout_keep_alive=_KEEP_ALIVE_S,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    with _stop_on_signals(server):
        # Printed only once a stop signal is handled: a parent that reads this line and at once
        # sends SIGTERM must get a clean stop (and the temporary database removed), not a kill.
        print(ready_line, flush=True)
        server.run(sockets=[sock])
    return server.started


@contextmanager
def _stop_on_signals(server: uvicorn.Server) -> Iterator[None]:
    # uvicorn installs its own handlers while it serves, then restores these and raises the
    # signal again "to trigger the expected behaviour". With the default handlers that would
    # turn a clean Ctrl-C or SIGTERM into a KeyboardInterrupt or a death by signal; these make
    # it a clean exit 0. They also cover a signal that arrives before uvicorn's own are in
    # place: uvicorn then starts, sees `should_exit` and stops at once.
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers; the caller owns signals then
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _fail(sentence: str) -> int:
    print(f"loadhopper cats: {sentence}", file=sys.stderr)
    return 1
