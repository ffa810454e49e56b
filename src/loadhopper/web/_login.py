"""`--web-login`: HTTP Basic credentials that every route of the UI requires."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from dataclasses import dataclass

from loadhopper._exceptions import ConfigError

__all__ = ["WebLogin"]

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
