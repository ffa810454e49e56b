"""The cats site in a child process, for `loadhopper demo` and for tests.

The child is `python -m loadhopper.demo --port 0`: the kernel picks a free port and the child
prints `cats site on http://127.0.0.1:PORT (database: PATH)` once it listens; the parent reads
that one line to learn the URL and the database. Nothing else is written to the child's
stdout (uvicorn's access log is off and its own log goes to stderr), so the pipe never fills.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import apsw

from ._cats_server import READY_PREFIX

__all__ = ["CatsProcess", "start_cats_process"]

_READY_LINE = re.compile(re.escape(READY_PREFIX) + r"(?P<url>\S+) \(database: (?P<db>.*)\)")
# The directory that holds the `loadhopper` package, so that the child imports the same copy.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class CatsProcess:
    """The cats site running in a child process; stop it with `stop()` or a `with` block.

    Attributes:
        url: the site's base URL, e.g. `http://127.0.0.1:40123`.
        db_path: the SQLite file the site uses.
    """

    def __init__(
        self, process: subprocess.Popen[str], stderr: IO[bytes], url: str, db_path: Path
    ) -> None:
        self._process = process
        self._stderr = stderr
        self.url = url
        self.db_path = db_path

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def count(self) -> int:
        """Return the number of cats, read from the database file (the site keeps running)."""
        # Read-only, so that a call after the site has deleted its temporary file fails
        # instead of creating an empty database. apsw rather than the stdlib's sqlite3: one
        # SQLite library per process, since two do not see each other's file locks.
        flags = apsw.SQLITE_OPEN_READONLY
        with closing(apsw.Connection(str(self.db_path), flags=flags)) as conn:
            conn.set_busy_timeout(5_000)
            row = conn.execute("SELECT count(*) FROM cat").fetchone()
        assert row is not None  # count(*) always answers one row
        return int(row[0])

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the site (SIGTERM, then SIGKILL after `timeout` seconds); return its exit code.

        A site that made its own temporary database deletes it as it stops. Calling `stop()`
        again returns the same code.
        """
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        _close(self._process.stdout)
        self._stderr.close()
        return self._process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_cats_process(
    db_path: str | os.PathLike[str] | None = None,
    *,
    host: str = "127.0.0.1",
    ready_timeout: float = 30.0,
) -> CatsProcess:
    """Start the cats site in a child process on a free port and wait until it listens.

    Args:
        db_path: the SQLite file to use, kept after the site stops; None for a fresh temporary
            file that the site deletes when it stops.
        host: the address to listen on.
        ready_timeout: seconds to wait for the site to report its address.

    Returns:
        The running site.

    Raises:
        RuntimeError: the site exited or stayed silent instead of starting; the message holds
            its last error line.
    """
    command = [sys.executable, "-m", "loadhopper.demo", "--host", host, "--port", "0"]
    if db_path is not None:
        command += ["--db", os.fspath(db_path)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE_ROOT), env.get("PYTHONPATH")]))
    # stderr goes to a file, not a pipe: nobody reads it while the site runs, and a full pipe
    # would block the child. It is read only to explain a failed start. The CatsProcess owns
    # it from here on and closes it in stop(), hence no `with`.
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True, encoding="utf-8"
    )
    line = _first_line(process, ready_timeout)
    match = _READY_LINE.fullmatch(line.rstrip("\r\n")) if line is not None else None
    if match is None:
        if process.poll() is None:
            process.kill()
        code = process.wait()
        if line is None:
            reason = f"it did not report its address within {ready_timeout:g} s"
        else:
            reason = _last_line(stderr) or f"it exited with code {code}"
        _close(process.stdout)
        stderr.close()
        raise RuntimeError(f"the cats site did not start: {reason}")
    return CatsProcess(process, stderr, match["url"], Path(match["db"]))


def _first_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    # A thread, not select(): select() does not work on pipes on Windows. The thread ends at
    # the first line or when the child exits (EOF), whichever comes first.
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None  # stdout=PIPE above
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return None


def _last_line(file: IO[bytes]) -> str:
    file.seek(0)
    text = file.read().decode("utf-8", errors="replace").strip()
    return text.splitlines()[-1] if text else ""


def _close(stream: IO[str] | None) -> None:
    if stream is not None:
        stream.close()
