"""A real cats site on loopback for each test, with a fresh database."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from cats_site_helpers import Site, serve_in_thread

from loadhopper.demo import create_app


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    db_path = tmp_path / "cats.db"
    client, server, thread = serve_in_thread(create_app(db_path))
    yield Site(client, db_path)
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def tom_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One site per module holding one cat, (1, "Tom", 3), for tests that must change nothing.

    Each such test asserts that the table still holds exactly that row, so sharing the site
    cannot hide a change; it saves a server start and stop (about 0.2 s) per test.
    """
    db_path = tmp_path_factory.mktemp("tom") / "cats.db"
    client, server, thread = serve_in_thread(create_app(db_path))
    assert client.create("Tom", 3) == 1
    yield Site(client, db_path)
    server.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()
