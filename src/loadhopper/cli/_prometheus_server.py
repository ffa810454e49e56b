"""`--prometheus-port`: the exposition endpoint of a headless run, on the run's own loop.

The server is a few lines of HTTP/1.1 over `asyncio.start_server`, not the client
library's `start_http_server`: that one serves from a thread, and a scrape reads the
statistics' dicts, which the loop thread changes at every request. On the loop, a scrape
runs between two callbacks and sees a consistent collector; its cost (a snapshot, a few
milliseconds for hundreds of rows) is paid once per scrape, never per request.

Each connection gets one answer and is closed (`Connection: close`), which Prometheus
handles like any exporter's. `GET /metrics` answers in the format the `Accept` header asks
for (the text format, or OpenMetrics); any other path is 404, any other method 405.

The default host is 127.0.0.1: a load generator often runs next to secrets, and its
metrics name every URL it hits. `--prometheus-host 0.0.0.0` exposes it to a scraper on
another machine (or in a container).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from collections.abc import Callable, Sequence

from prometheus_client.registry import CollectorRegistry

from loadhopper._exceptions import ConfigError
from loadhopper.cli._options import Options
from loadhopper.report._prometheus import environment_view, exposition, metrics_registry
from loadhopper.runtime import Environment
from loadhopper.runtime._threshold_watch import ThresholdWatch
from loadhopper.stats._thresholds import ThresholdResult

__all__ = ["DEFAULT_PROMETHEUS_HOST", "PrometheusServer", "prometheus_address", "start_metrics"]

logger = logging.getLogger(__name__)

DEFAULT_PROMETHEUS_HOST = "127.0.0.1"

# A scrape request is one line and a few headers; anything larger is not a scraper.
_MAX_HEAD_BYTES = 16 * 1024
# A client that does not finish its request line and headers within this is dropped.
_HEAD_TIMEOUT_SECONDS = 10.0


def prometheus_address(options: Options) -> tuple[str, int] | None:
    """The (host, port) `--prometheus-port` and `--prometheus-host` ask for, or None."""
    port = options.prometheus_port
    if port is None:
        return None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--prometheus-port must be a port number (0-65535), got {port}.")
    return options.prometheus_host or DEFAULT_PROMETHEUS_HOST, port


class PrometheusServer:
    """Serves `registry` at `/metrics` on `host:port` (port 0: any free port).

    A constructor never starts work: `await start()` binds, `await close()` stops.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self.requested_port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port bound (the chosen one when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("The Prometheus server is not started.")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind and start answering.

        Raises:
            ConfigError: the port is in use, or the host is not an address of this machine.
        """
        try:
            self._server = await asyncio.start_server(
                self._answer, self.host, self.requested_port, reuse_address=True
            )
        except OSError as exc:
            where = f"{self.host}:{self.requested_port}"
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"Port {self.requested_port} is already in use on {self.host}; choose "
                    "another with --prometheus-port."
                ) from None
            raise ConfigError(
                f"Cannot serve Prometheus metrics on {where} ({exc.strerror or exc}); check "
                "--prometheus-host."
            ) from None
        shown = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        logger.info("Prometheus metrics at http://%s:%d/metrics", shown, self.port)

    async def close(self) -> None:
        """Stop listening and end the connections in progress."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_HEAD_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            writer.write(self._response(head))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a client that never sent a whole request gets nothing
        except ConnectionError:
            pass  # the scraper went away
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _response(self, head: bytes) -> bytes:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return _plain(400, "Bad Request", "The request line is malformed.\n")
        method, target, _version = parts
        path = target.split("?", 1)[0]
        if path != "/metrics":
            return _plain(404, "Not Found", "Metrics are at /metrics.\n")
        if method not in ("GET", "HEAD"):
            return _plain(405, "Method Not Allowed", "Use GET /metrics.\n", allow="GET, HEAD")
        accept = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "accept":
                accept = value.strip()
        body, content_type = exposition(self.registry, accept)
        return _head(200, "OK", content_type, len(body)) + (b"" if method == "HEAD" else body)


def _head(status: int, reason: str, content_type: str, length: int, allow: str = "") -> bytes:
    extra = f"Allow: {allow}\r\n" if allow else ""
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
    ).encode("latin-1")


def _plain(status: int, reason: str, text: str, allow: str = "") -> bytes:
    body = text.encode()
    return _head(status, reason, "text/plain; charset=utf-8", len(body), allow) + body


def _threshold_source(env: Environment) -> Callable[[], Sequence[ThresholdResult]] | None:
    # The CLI attaches its ThresholdWatch as a window listener of the runner before the run
    # starts; reading it from there keeps the watch's owner unchanged.
    runner = env.runner
    if runner is None:
        return None
    for listener in runner.window_listeners:
        watch = getattr(listener, "__self__", None)
        if isinstance(watch, ThresholdWatch):
            return lambda: watch.results
    return None


async def start_metrics(env: Environment, options: Options) -> PrometheusServer | None:
    """Start serving the run's metrics when `--prometheus-port` is given (else None).

    In a `--processes` or `--ray` master `env.stats` holds the merged windows, so the one
    endpoint speaks for every worker; the workers serve nothing of their own.

    Raises:
        ConfigError: the address cannot be bound.
    """
    address = prometheus_address(options)
    if address is None:
        return None
    thresholds = _threshold_source(env)
    registry = metrics_registry(lambda: environment_view(env, time.time(), thresholds))
    server = PrometheusServer(registry, *address)
    await server.start()
    return server
