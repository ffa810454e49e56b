"""The cats table: one SQLite connection (through fastlite, as in the seed) and typed operations.

Theory of operation. The seed shared one connection between the threads of Starlette's pool,
which apsw refuses (`ThreadingViolationError`) as soon as two requests overlap. Here the site's
handlers are `async def`, so they all run on the event loop's thread, one at a time, and each
call below runs to completion (SQLite calls do not await) before the next handler starts. One
connection, no locks, and every operation is atomic with respect to every other request: no
lost or duplicated row, whatever the concurrency.

Another process may open the same file (a second site, `CatsProcess.count()`, the sqlite3
shell). WAL mode lets readers and the writer proceed together, and a busy timeout makes a
writer wait for another writer's lock instead of failing at once with "database is locked".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastlite import NotFoundError, database

__all__ = ["Cat", "CatStore"]


@dataclass(frozen=True, slots=True)
class Cat:
    """One row of the `cat` table (the class also declares the table's schema to fastlite)."""

    id: int
    name: str
    age: int


class CatStore:
    """The `cat` table of one SQLite file. Use from one thread at a time (the event loop's)."""

    def __init__(self, db_path: str | os.PathLike[str], *, busy_timeout: float = 5.0) -> None:
        """Open (or create) the file and the `cat` table.

        Args:
            db_path: the SQLite file; its directory must exist.
            busy_timeout: seconds to wait for another process's lock before `apsw.BusyError`.
        """
        self._db: Any = database(Path(db_path))
        self._db.conn.set_busy_timeout(round(busy_timeout * 1000))
        # In WAL mode NORMAL still survives an application crash; it only skips the fsync per
        # commit that FULL makes, which would otherwise stall the event loop on every write.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # AUTOINCREMENT, which fastlite cannot declare: a plain INTEGER PRIMARY KEY hands the
        # highest id out again once its row is deleted, so one user's stale id would come to
        # mean another user's new cat. Under load, with many users holding ids, it happens.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS cat"
            " (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, age INTEGER)"
        )
        # The table exists now, so this only binds it to the Cat class (ignore=True). A table
        # made by the seed's cats.py has the same columns and is used as it is.
        self._cats: Any = self._db.create(Cat, pk="id")

    def count(self) -> int:
        """Return the number of cats."""
        row = self._db.execute("SELECT count(*) FROM cat").fetchone()
        return int(row[0])

    def first(self, limit: int) -> list[Cat]:
        """Return up to `limit` cats, lowest id first."""
        return list(self._cats(order_by="id", limit=limit))

    def random_id(self) -> int | None:
        """Return the id of a random cat, or None when there is none."""
        # ORDER BY random() reads the whole table; fine for a demo's few hundred rows.
        row = self._db.execute("SELECT id FROM cat ORDER BY random() LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def get(self, cat_id: int) -> Cat | None:
        """Return the cat with this id, or None when there is none."""
        try:
            cat: Cat = self._cats[cat_id]
        except NotFoundError:
            return None
        return cat

    def insert(self, name: str, age: int) -> Cat:
        """Store a new cat and return it with its new id."""
        cat: Cat = self._cats.insert({"name": name, "age": age})
        return cat

    def update(self, cat_id: int, name: str, age: int) -> Cat | None:
        """Change a cat's name and age; return the new row, or None when the id is unknown."""
        if self.get(cat_id) is None:
            return None
        cat: Cat = self._cats.update({"name": name, "age": age}, cat_id)
        return cat

    def delete(self, cat_id: int) -> bool:
        """Delete a cat; return False when the id is unknown."""
        try:
            self._cats.delete(cat_id)
        except NotFoundError:
            return False
        return True

    def close(self) -> None:
        """Close the connection (SQLite then folds the WAL back into the file and removes it)."""
        self._db.close()
