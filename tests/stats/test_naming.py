from __future__ import annotations

import pytest

from loadhopper.stats import template_url

HEX32 = "3f2a9c0d1b4e5f60718293a4b5c6d7e8"
UUID = "123e4567-e89b-12d3-a456-426614174000"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/", "/"),
        ("", ""),
        ("/17/delete", "/[id]/delete"),
        ("/cats/17", "/cats/[id]"),
        ("/cats/17/", "/cats/[id]/"),
        (f"/users/{HEX32}/x", "/users/[hash]/x"),
        (f"/users/{HEX32.upper()}", "/users/[hash]"),
        ("/blob/abcdefabcdefabcd", "/blob/[hash]"),  # 16 hex letters, no digit
        (f"/orders/{UUID}", "/orders/[uuid]"),
        (f"/orders/{UUID.upper()}/items/3", "/orders/[uuid]/items/[id]"),
        ("/api/v2/items", "/api/v2/items"),
        ("/deadbeef", "/deadbeef"),  # 8 hex chars is a word, not a hash
        ("/a1b2c3", "/a1b2c3"),
        ("/file-17.json", "/file-17.json"),
        ("/page²", "/page²"),
        ("/²", "/²"),  # a non-ASCII digit is not an id
        ("/search?q=cats&page=2", "/search?q=[v]&page=[v]"),
        ("/search?q=&debug", "/search?q=[v]&debug"),
        ("/x?", "/x?"),
        ("/17?id=17", "/[id]?id=[v]"),
        ("/a//b", "/a//b"),
    ],
)
def test_template_url(url: str, expected: str) -> None:
    assert template_url(url) == expected


def test_two_ids_share_one_name() -> None:
    assert template_url("/17/delete") == template_url("/18/delete")


def test_templating_is_idempotent() -> None:
    for url in ("/17/delete", f"/u/{UUID}", "/search?q=cats&page=2", f"/h/{HEX32}"):
        once = template_url(url)
        assert template_url(once) == once
