"""Serving the UI with uvicorn, inside the runner's event loop (not in a thread).

The socket is bound here, before uvicorn starts, for two reasons: a port in use becomes a
one-line error for the user (uvicorn would log it and call `sys.exit`), and binding port 0
gives a free port whose number is known at once (tests). uvicorn's own signal handling is
switched off: the CLI owns SIGINT and SIGTERM, which must stop the test, not only the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from loadhopper._exceptions import ConfigError

__all__ = ["WebServer", "display_url"]

# Open event streams are ended before shutdown; this only bounds a stuck connection.
_GRACEFUL_SHUTDOWN_SECONDS = 2


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would install process-wide handlers and re-raise the signal at exit.
        yield


def display_url(host: str, port: int) -> str:
    """The URL to print for a bound address (`0.0.0.0` and `::` print as 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


class WebServer:
    """One uvicorn server for the UI app, on a socket bound by `bind()`.

    Args:
        app: the UI application (from `create_app`).
        host: the interface to listen on (`127.0.0.1` by default in the CLI).
        port: the port; 0 picks a free one.
    """

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._exit_requested = False

    def bind(self) -> int:
        """Bind and listen; return the port.

        Raises:
            ConfigError: the address cannot be bound (in use, or not this machine's).
        """
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"The web UI cannot listen on {self.host}:{self.port} ({exc.strerror}); "
                "choose another --web-port or --web-host."
            ) from None
        sock.setblocking(False)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        return self.port

    @property
    def url(self) -> str:
        """The UI's address."""
        return display_url(self.host, self.port)

    async def serve(self) -> None:
        """Serve until `shutdown()`; binds first if `bind()` was not called."""
        if self._socket is None:
            self.bind()
        assert self._socket is not None
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = _Server(config)
        self._server.should_exit = self._exit_requested  # shutdown() came first
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()

    def shutdown(self) -> None:
        """End the event streams and ask the server to stop; `serve()` then returns."""
        self.app.state.stream.close()
        self._exit_requested = True
        if self._server is not None:
            self._server.should_exit = True

    @property
    def started(self) -> bool:
        """True once the server accepts connections."""
        return self._server is not None and self._server.started

    async def wait_started(self) -> None:
        """Return once the server accepts connections."""
        while not self.started:
            await asyncio.sleep(0.01)
