import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from loadhopper.demo import cats_main, start_cats_process


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_a_taken_port_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert cats_main(["--port", str(port)]) == 1
    assert f"port {port} on 127.0.0.1 is already in use" in _error_line(capsys)


def test_a_db_in_a_missing_directory_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cats_main(["--port", "0", "--db", str(tmp_path / "nope" / "cats.db")]) == 1
    assert "does not exist; create it first" in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_db_that_is_a_directory_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cats_main(["--port", "0", "--db", str(tmp_path)]) == 1
    assert "is a directory" in _error_line(capsys)


def test_a_db_that_is_not_sqlite_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("my notes, not a database\n" * 100)
    assert cats_main(["--port", "0", "--db", str(not_a_db)]) == 1
    assert "as a SQLite database" in _error_line(capsys)
    assert not_a_db.read_text() == "my notes, not a database\n" * 100


@pytest.mark.parametrize("port", ["http", "-1", "65536"])
def test_a_bad_port_is_a_usage_error(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cats_main(["--port", port]) == 2
    assert "is not a port" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cats_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--port" in out and "--db" in out and "--host" in out


def test_the_child_prints_where_it_serves_and_sigterm_stops_it_cleanly() -> None:
    site = start_cats_process()
    try:
        assert site.url.startswith("http://127.0.0.1:")
        assert site.db_path.name == "cats.db" and site.db_path.exists()
        with urllib.request.urlopen(site.url + "/") as page:
            assert page.status == 200
    finally:
        code = site.stop()
    assert code == 0
    # The default database was a fresh temporary one: gone with its directory.
    assert not site.db_path.parent.exists()


def test_ctrl_c_stops_it_cleanly_too() -> None:
    site = start_cats_process()
    try:
        with urllib.request.urlopen(site.url + "/create", data=b"name=Tom&age=3") as answer:
            assert answer.read() == b"1"
    finally:
        os.kill(site.pid, signal.SIGINT)  # what Ctrl-C sends
        code = site.stop()
    assert code == 0
    assert not site.db_path.parent.exists()


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "loadhopper.demo", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "already in use" in done.stderr and done.stdout == ""
