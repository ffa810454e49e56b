"""`env.create_web_ui(host, port)`: loadhopper's web UI for a script that uses it as a library.

The UI is the CLI's (`WebController`, `create_app`, `WebServer`), served on the loop the
script's tests run on: the library hub's, which runs while the script blocks
(`runner.greenlet.join()`, `time.sleep`, ...), or the running loop when the script is async.
The socket is bound at once, so a port in use is an error of `create_web_ui` itself, and
`web_ui.stop()` ends the server (from the script's main code it returns once it has).

Differences from Locust's WebUI, which is a Flask app: extensions that add Flask routes
cannot work; an empty host binds loopback only (Locust binds every interface), as the CLI
does; TLS and a base path are refused with an error saying so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from loadhopper._exceptions import ConfigError
from loadhopper.runtime._gevent._hub import block, can_wait, running_loop
from loadhopper.runtime._library import current_hub, library_hub
from loadhopper.web._app import create_app
from loadhopper.web._controller import WebController
from loadhopper.web._login import WebLogin
from loadhopper.web._parameters import StartParameters
from loadhopper.web._server import WebServer

if TYPE_CHECKING:
    from loadhopper.runtime import Environment

__all__ = ["WebUI", "create_web_ui"]

logger = logging.getLogger(__name__)

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _login_of(web_login: bool | str | WebLogin | None) -> WebLogin | None:
    if isinstance(web_login, WebLogin):
        return web_login
    if web_login is None or web_login is False:
        return None
    if web_login is True:
        return WebLogin.generate()
    return WebLogin.parse(str(web_login))


class WebUI:
    """The web UI of one Environment, served on the script's loop until `stop()`.

    Attributes:
        environment: the environment whose runner the UI drives.
        host: the interface the server listens on.
        port: the port it listens on (the real one when 0 was asked).
        login: the credentials every route requires, or None.
        controller: the UI's test lifecycle (starts, edits and stops tests).
    """

    def __init__(
        self,
        environment: Environment,
        host: str = "",
        port: int = 8089,
        *,
        web_login: bool | str | WebLogin | None = False,
        delayed_start: bool = False,
    ) -> None:
        self.environment = environment
        self.host = host or "127.0.0.1"
        if self.host == "*":
            self.host = "0.0.0.0"
        self.login = _login_of(web_login)
        self.controller = WebController(
            environment,
            locustfile="(script)",
            defaults=StartParameters(users=1, spawn_rate=1.0, host=environment.host),
        )
        loopback = _is_loopback(self.host)
        app = create_app(
            self.controller,
            login=self.login,
            allowed_hosts=_LOOPBACK_NAMES if loopback else None,
        )
        self._server = WebServer(app, self.host, port)
        self.port = self._server.bind()  # a port in use fails here, in the script's call
        self._task: asyncio.Task[None] | None = None
        if not loopback and self.login is None:
            logger.warning(
                "The web UI listens on %s without a login: anyone who can reach it can start "
                "load against any host. Pass web_login='USER:PASSWORD'.",
                self.host,
            )
        if not delayed_start:
            self.start()

    @property
    def url(self) -> str:
        """The UI's address."""
        return self._server.url

    def start(self) -> None:
        """Start serving (done by the constructor unless `delayed_start`)."""
        if self._task is not None:
            return
        loop = running_loop()
        hub = current_hub()
        if loop is None:
            hub = library_hub()
        if hub is not None and (loop is None or loop is hub.loop):
            self._task = hub.spawn(self._server.serve(), "web-ui", stop=self._server.shutdown)
        else:
            assert loop is not None
            self._task = loop.create_task(self._server.serve(), name="web-ui")
        logger.info("web UI on %s", self.url)
        if self.login is not None and self.login.generated:
            logger.warning("web UI login: %s / %s", self.login.user, self.login.password)

    def stop(self) -> None:
        """Stop the server; where the caller can wait (a script's main code), until it has."""
        self._server.shutdown()
        self.controller.close()
        task = self._task
        if task is not None and not task.done() and can_wait():
            block(asyncio.wait([task]), "web_ui.stop()")


def create_web_ui(
    environment: Environment,
    host: str = "",
    port: int = 8089,
    web_base_path: str | None = None,
    web_login: bool | str | WebLogin | None = False,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    stats_csv_writer: Any = None,
    delayed_start: bool = False,
    userclass_picker_is_active: bool = False,
    build_path: str | None = None,
) -> WebUI:
    """Serve the web UI for `environment` (Locust's `Environment.create_web_ui`).

    `stats_csv_writer` and `userclass_picker_is_active` are accepted and unused: the UI's
    CSV downloads are its own, and its start form always offers the User classes.

    Raises:
        ConfigError: TLS, a base path or a build path was asked for (not supported), the
            login is malformed, or the address cannot be bound.
    """
    if tls_cert or tls_key:
        raise ConfigError(
            "create_web_ui cannot serve TLS; serve the UI on loopback and put a TLS proxy "
            "in front of it."
        )
    if web_base_path or build_path:
        raise ConfigError(
            "create_web_ui serves loadhopper's own UI at the root path; web_base_path and "
            "build_path are not supported."
        )
    return WebUI(environment, host, port, web_login=web_login, delayed_start=delayed_start)
