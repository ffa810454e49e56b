"""Retry: which failures are tried again, how often, and how long it waits (a fake sleep)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import pytest

from loadhopper.cli._retry import TRANSIENT_ERRNOS, Retry, reason_of
from loadhopper.report import replace_file


class FlakyDisk:
    """Fails the first `failures` writes with `code`, then writes the file for real."""

    def __init__(self, path: Path, code: int, failures: int) -> None:
        self.path = path
        self.code = code
        self.failures = failures
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError(self.code, os.strerror(self.code), str(self.path))
        replace_file(self.path, "done\n")


def test_a_transient_error_is_tried_again_after_each_delay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    waited: list[float] = []
    disk = FlakyDisk(tmp_path / "out.json", errno.EMFILE, failures=2)
    with caplog.at_level(logging.WARNING):
        error = Retry(delays=(0.1, 0.3, 1.0), sleep=waited.append).write(disk.path, disk)
    assert error is None
    assert disk.path.read_text() == "done\n"
    assert waited == [0.1, 0.3]  # two failures, two waits, then success
    retries = [r.getMessage() for r in caplog.records]
    assert retries == [
        f"Could not write {disk.path} (Too many open files); trying again in 0.1 s.",
        f"Could not write {disk.path} (Too many open files); trying again in 0.3 s.",
    ]


def test_a_transient_error_that_stays_gives_up_after_the_last_delay(tmp_path: Path) -> None:
    waited: list[float] = []
    disk = FlakyDisk(tmp_path / "out.json", errno.ENOSPC, failures=100)
    error = Retry(delays=(0.1, 0.3, 1.0), sleep=waited.append).write(disk.path, disk)
    assert error is not None and error.errno == errno.ENOSPC
    assert disk.calls == 4 and waited == [0.1, 0.3, 1.0]
    assert not disk.path.exists()


def test_an_error_a_wait_cannot_mend_fails_at_once(tmp_path: Path) -> None:
    # A real one: the folder of the file is a file.
    (tmp_path / "reports").write_text("not a folder")
    target = tmp_path / "reports" / "r.html"
    waited: list[float] = []
    error = Retry(sleep=waited.append).write(target, lambda: replace_file(target, "x"))
    assert error is not None and error.errno == errno.ENOTDIR
    assert reason_of(error) == "Not a directory"
    assert waited == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # no temporary left


def test_other_exceptions_are_not_swallowed(tmp_path: Path) -> None:
    def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        Retry(sleep=lambda _: None).write(tmp_path / "x", broken)


def test_which_errors_are_transient() -> None:
    assert {errno.EMFILE, errno.ENFILE, errno.ENOSPC, errno.EIO} <= TRANSIENT_ERRNOS
    assert not {errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.EISDIR} & TRANSIENT_ERRNOS
