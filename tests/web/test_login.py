"""`--web-login`: parsing USER:PASSWORD and checking Basic credentials."""

from __future__ import annotations

import base64

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.web import WebLogin


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_parse_keeps_colons_in_the_password() -> None:
    assert WebLogin.parse("admin:a:b") == WebLogin("admin", "a:b")


@pytest.mark.parametrize("text", ["admin", ":secret", "admin:", ""])
def test_parse_refuses_incomplete_credentials(text: str) -> None:
    with pytest.raises(ConfigError, match="USER:PASSWORD"):
        WebLogin.parse(text)


def test_generated_logins_are_random_and_marked() -> None:
    first, second = WebLogin.generate(), WebLogin.generate()
    assert first.generated and first.user == "loadhopper"
    assert first.password != second.password and len(first.password) >= 16


def test_accepts_only_the_exact_credentials() -> None:
    login = WebLogin("admin", "s3cret")
    assert login.accepts(_basic(b"admin:s3cret"))
    assert login.accepts("basic " + base64.b64encode(b"admin:s3cret").decode())
    for wrong in (b"admin:s3cre", b"admin:s3cretX", b"Admin:s3cret", b"admins3cret", b""):
        assert not login.accepts(_basic(wrong))
    assert not login.accepts(None)
    assert not login.accepts("Bearer s3cret")
    assert not login.accepts("Basic !!!not-base64!!!")


def test_accepts_utf8_credentials() -> None:
    login = WebLogin("ünï", "pässwörd")
    assert login.accepts(_basic("ünï:pässwörd".encode()))
