"""The HTTP targets the generators load: nginx (case 1, when installed) or our own server.

Each target runs in its own process, pinned to the CPU the generator does not use, listens on
127.0.0.1 only, and can tell how many requests it has served, so that every tool's count can
be checked against the target's.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from _metrics import CountSample
from _parse import ParseError, parse_stub_status
from _process import pinned, stop_process

__all__ = ["Target", "TargetKind", "nginx_target", "own_target"]

_HERE = Path(__file__).resolve().parent
_READY_TIMEOUT = 10.0


@dataclass(slots=True)
class _CountLog:
    """Cumulative counts our server prints, collected by a reader thread."""

    samples: list[CountSample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, sample: CountSample) -> None:
        with self.lock:
            self.samples.append(sample)

    def copy(self) -> list[CountSample]:
        with self.lock:
            return list(self.samples)


class TargetKind(StrEnum):
    """How the target was built, for the report."""

    NGINX = "nginx"
    OWN = "own uvloop server"


@dataclass(frozen=True, slots=True)
class Target:
    """A running target.

    Attributes:
        kind: what serves the requests.
        url: the base URL, http://127.0.0.1:PORT.
        delay_ms: the fixed delay before each response (the true latency floor).
        pid: the process serving (nginx's master), None when not known.
    """

    kind: TargetKind
    url: str
    delay_ms: float
    _port: int
    _log: _CountLog | None
    pid: int | None = None

    def request_count(self) -> int | None:
        """Requests served so far, or None when the target cannot say.

        For our server this is the latest total it printed (at most one report interval
        old); for nginx it is the stub_status counter (which counts this query too).
        """
        if self._log is not None:
            samples = self._log.copy()
            return samples[-1].total if samples else None
        return _nginx_requests(self._port)

    def samples(self) -> list[CountSample]:
        """Every (time, cumulative count) our server has reported; empty for nginx."""
        return self._log.copy() if self._log is not None else []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the target exited with code {process.returncode} at startup.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the target did not listen on 127.0.0.1:{port} within {_READY_TIMEOUT} s.")


def _nginx_requests(port: int) -> int | None:
    request = b"GET /nginx_status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return parse_stub_status(b"".join(chunks).decode("latin-1"))
    except (OSError, ParseError):
        return None


def _nginx_conf(workdir: Path, port: int) -> str:
    # One worker (it gets one core), no access log, keep-alive connections never closed by
    # nginx during a run (its default closes them after 1,000 requests).
    return f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = / {{ default_type text/plain; return 200 "ok"; }}
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_target(workdir: Path, cpu: int | None) -> Iterator[Target]:
    """Run nginx with a generated one-worker config in `workdir` for the block's duration.

    Raises:
        FileNotFoundError: nginx is not installed.
    """
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        raise FileNotFoundError("nginx is not installed")
    port = _free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(_nginx_conf(workdir, port))
    argv = [nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(conf)]
    log = (workdir / "nginx.out").open("wb")
    with pinned(cpu):
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process)
        yield Target(TargetKind.NGINX, f"http://127.0.0.1:{port}", 0.0, port, None, process.pid)
    finally:
        # SIGTERM to the master (our child) stops nginx and its worker.
        stop_process(process)
        log.close()


def _read_counts(stream: object, log: _CountLog) -> None:
    assert hasattr(stream, "readline")
    for raw in iter(stream.readline, b""):
        parts = raw.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                log.append(CountSample(float(parts[0]), int(parts[1])))


@contextlib.contextmanager
def own_target(
    workdir: Path, cpu: int | None, delay_ms: float, stamps: bool = False
) -> Iterator[Target]:
    """Run `_target_server.py` (uvloop + httptools) for the block's duration; with `stamps`,
    on its stamped front end, which records each request's wait in its socket."""
    argv = [sys.executable, str(_HERE / "_target_server.py"), "--delay-ms", str(delay_ms)]
    if stamps:
        argv.append("--stamps")
    stderr = (workdir / "target.err").open("wb")
    with pinned(cpu):
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    try:
        ready = process.stdout.readline().split()
        if len(ready) != 2 or ready[0] != b"READY":
            raise RuntimeError(f"the target server did not start; see {workdir / 'target.err'}.")
        port = int(ready[1])
        log = _CountLog()
        reader = threading.Thread(target=_read_counts, args=(process.stdout, log), daemon=True)
        reader.start()
        yield Target(TargetKind.OWN, f"http://127.0.0.1:{port}", delay_ms, port, log, process.pid)
    finally:
        stop_process(process)
        stderr.close()
