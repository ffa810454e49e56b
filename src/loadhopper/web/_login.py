"""`--web-login`: HTTP Basic credentials that every route of the UI requires, and a throttle
that makes guessing them slow.

Without a throttle, a client can try passwords as fast as the server answers (hundreds a
second on loopback). `LoginThrottle` counts wrong credentials per client address: the first
few are free (a typo, a stale saved password), then each further one makes that client wait,
twice as long each time up to a cap, during which its requests are refused (429) without
looking at the password. The numbers follow fail2ban's defaults (`maxretry = 5`,
`findtime = 10m`, and `bantime.increment`'s doubling), with a one-minute cap instead of a
ban: the UI's operator may be the one who mistyped.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from loadhopper._exceptions import ConfigError

__all__ = ["LoginThrottle", "WebLogin"]

_GENERATED_USER = "loadhopper"


@dataclass(frozen=True, slots=True)
class WebLogin:
    """A user name and password for HTTP Basic authentication.

    Attributes:
        user: the user name.
        password: the password.
        generated: True when the password was made up at start (and must be shown once).
    """

    user: str
    password: str
    generated: bool = False

    @classmethod
    def parse(cls, text: str) -> WebLogin:
        """Read `USER:PASSWORD` (the password may itself contain colons).

        Raises:
            ConfigError: there is no colon, or the user or password is empty.
        """
        user, colon, password = text.partition(":")
        if not colon or not user or not password:
            raise ConfigError(
                "--web-login takes USER:PASSWORD (e.g. --web-login admin:s3cret), "
                "or no value to get a random password."
            )
        return cls(user, password)

    @classmethod
    def generate(cls) -> WebLogin:
        """A login with the user `loadhopper` and a random 128-bit password."""
        return cls(_GENERATED_USER, secrets.token_urlsafe(16), generated=True)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header carries these credentials.

        Both parts are compared in constant time, so the comparison's duration does not
        tell an attacker how much of a guess was right.
        """
        if not authorization:
            return False
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, colon, password = decoded.partition(b":")
        user_ok = hmac.compare_digest(user, self.user.encode("utf-8"))
        password_ok = hmac.compare_digest(password, self.password.encode("utf-8"))
        return bool(colon) and user_ok and password_ok


@dataclass(slots=True)
class _Failures:
    count: int
    last: float  # the clock's time of the latest failure
    blocked_until: float


class LoginThrottle:
    """Per-client backoff after repeated wrong credentials (see the module's docstring).

    A client is a peer address. After `free_failures` failures, a client must wait
    `first_delay` seconds, then twice as long after each further failure, at most
    `max_delay`. A success forgets the client, and so does `forget_after` seconds without a
    failure. At most `max_clients` clients are remembered; past that, the one whose latest
    failure is oldest is forgotten, so many addresses cannot grow memory.

    What it does not do: clients that share an address (everyone behind one proxy, every
    local user of a loopback-bound UI) share a count, so one of them guessing makes the
    others wait too, at most `max_delay` at a time; and an attacker with more addresses than
    `max_clients` can cycle its own entries out. It slows guessing down; a strong password
    (the generated one has 128 bits) is what makes guessing hopeless.

    Args:
        free_failures: failures allowed before the first wait.
        first_delay: the first wait, in seconds.
        max_delay: the longest wait, in seconds.
        forget_after: seconds without a failure after which a client starts afresh.
        max_clients: how many clients to remember.
        clock: seconds on a monotonic clock; tests pass a fake one.

    Raises:
        ValueError: a count is below 1 or a duration is not positive.
    """

    __slots__ = (
        "_clients",
        "_clock",
        "_first_delay",
        "_forget_after",
        "_free_failures",
        "_max_clients",
        "_max_delay",
    )

    def __init__(
        self,
        *,
        free_failures: int = 5,
        first_delay: float = 1.0,
        max_delay: float = 60.0,
        forget_after: float = 600.0,
        max_clients: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if free_failures < 1 or max_clients < 1:
            raise ValueError(
                f"free_failures and max_clients must be at least 1, got {free_failures} "
                f"and {max_clients}."
            )
        if not 0 < first_delay <= max_delay <= forget_after:
            raise ValueError(
                "The delays must satisfy 0 < first_delay <= max_delay <= forget_after, got "
                f"{first_delay}, {max_delay} and {forget_after}."
            )
        self._free_failures = free_failures
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._forget_after = forget_after
        self._max_clients = max_clients
        self._clock = clock
        # Ordered by latest failure, oldest first: the eviction order.
        self._clients: dict[str, _Failures] = {}

    def retry_after(self, client: str) -> int:
        """Whole seconds `client` must still wait before its credentials are checked; 0 if none.

        Rounded up, as the `Retry-After` header wants whole seconds (RFC 9110 §10.2.3).
        """
        failures = self._clients.get(client)
        if failures is None:
            return 0
        now = self._clock()
        if now - failures.last >= self._forget_after:
            del self._clients[client]
            return 0
        return max(math.ceil(failures.blocked_until - now), 0)

    def failed(self, client: str) -> None:
        """Count wrong credentials from `client`."""
        now = self._clock()
        failures = self._clients.pop(client, None)
        if failures is None or now - failures.last >= self._forget_after:
            failures = _Failures(0, now, now)
        failures.count += 1
        failures.last = now
        excess = failures.count - self._free_failures
        if excess >= 0:
            # min() on the exponent first: the count only grows by checked failures, one
            # per delay, but 2.0 ** a large count would still overflow a float.
            delay = self._first_delay * 2.0 ** min(excess, 64)
            failures.blocked_until = now + min(delay, self._max_delay)
        self._clients[client] = failures  # re-inserted: now the newest
        if len(self._clients) > self._max_clients:
            del self._clients[next(iter(self._clients))]

    def succeeded(self, client: str) -> None:
        """Forget `client`'s failures: it knows the password."""
        self._clients.pop(client, None)

    def __len__(self) -> int:
        """How many clients are remembered."""
        return len(self._clients)
