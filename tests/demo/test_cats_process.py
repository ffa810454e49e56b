import http.client
import random
import threading
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import apsw
import pytest

from loadhopper.demo import CatsProcess, start_cats_process


def _create(url: str, name: str = "Tom") -> int:
    with urllib.request.urlopen(url + "/create", data=f"name={name}&age=3".encode()) as answer:
        return int(answer.read())


def test_a_given_database_is_used_and_kept(tmp_path: Path) -> None:
    db_path = tmp_path / "cats.db"
    with start_cats_process(db_path) as site:
        assert site.db_path == db_path
        assert site.count() == 0
        _create(site.url)
        _create(site.url)
        assert site.count() == 2
    assert site.stop() == 0  # stopping again answers the same code
    assert db_path.exists()
    with start_cats_process(db_path) as again:  # and a second run finds the cats
        assert again.count() == 2


def test_count_after_a_temporary_database_is_gone_fails_instead_of_creating_one() -> None:
    with start_cats_process() as site:
        pass  # stopped at once: the site must still remove its database
    assert site.stop() == 0
    with pytest.raises(apsw.CantOpenError):
        site.count()
    assert not site.db_path.exists()


def test_a_site_that_cannot_start_raises_with_its_reason(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="does not exist; create it first"):
        start_cats_process(tmp_path / "missing" / "cats.db")


# --- correctness under concurrency -------------------------------------------------------

USERS = 50
ROUNDS = 6


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    created: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


def _user(site: CatsProcess, seed: int, start: threading.Barrier, shared: list[int]) -> Tally:
    """The seed locustfile's sequence without waiting, plus deletes of other users' cats."""
    tally = Tally()
    rng = random.Random(seed)
    parts = urllib.parse.urlsplit(site.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def call(method: str, path: str, fields: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(fields).encode() if fields is not None else None
        conn.request(method, path, body=body, headers=form if body is not None else {})
        resp = conn.getresponse()
        text = resp.read().decode()
        tally.statuses[resp.status] += 1
        return resp.status, text

    start.wait()
    try:
        for _ in range(ROUNDS):
            call("GET", "/")
            status, text = call("POST", "/create", {"name": f"u{seed}", "age": "3"})
            assert status == 200, (status, text)
            pk = int(text)
            tally.created.append(pk)
            shared.append(pk)
            call("POST", f"/{pk}/update", {"id": str(pk), "name": f"v{seed}", "age": "4"})
            call("GET", f"/{pk}")
            call("GET", "/random")
            # Half the time delete our own cat, and sometimes someone else's: two users may
            # race to delete the same cat, and exactly one of them must win.
            victims = [pk] if rng.random() < 0.5 else []
            if rng.random() < 0.5:
                victims.append(rng.choice(shared))
            for victim in victims:
                status, _ = call("GET", f"/{victim}/delete")
                if status == 303:
                    tally.deleted.append(victim)
    finally:
        conn.close()
    return tally


def test_fifty_concurrent_users_get_no_5xx_and_lose_no_row(tmp_path: Path) -> None:
    with start_cats_process(tmp_path / "cats.db") as site:
        start = threading.Barrier(USERS)
        shared: list[int] = []
        tallies: list[Tally | BaseException] = [RuntimeError("did not run")] * USERS

        def run(i: int) -> None:
            try:
                tallies[i] = _user(site, i, start, shared)
            except BaseException as exc:  # reported below, with the user's number
                tallies[i] = exc
                start.abort()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(USERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        failures = [t for t in tallies if isinstance(t, BaseException)]
        assert not failures, failures[0]
        done = [t for t in tallies if isinstance(t, Tally)]

        statuses = sum((t.statuses for t in done), Counter[int]())
        assert all(status < 500 for status in statuses), statuses
        assert set(statuses) <= {200, 303, 404}, statuses
        created = [pk for t in done for pk in t.created]
        deleted = [pk for t in done for pk in t.deleted]
        assert len(created) == USERS * ROUNDS
        assert len(set(created)) == len(created), "an id was handed out twice"
        assert len(set(deleted)) == len(deleted), "a cat was deleted twice"
        assert site.count() == len(created) - len(deleted)
        with apsw.Connection(str(site.db_path), flags=apsw.SQLITE_OPEN_READONLY) as conn:
            remaining = {row[0] for row in conn.execute("SELECT id FROM cat")}
        assert remaining == set(created) - set(deleted)
