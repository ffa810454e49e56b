"""`--max-body-size` and `--max-decoded-size`: parsed in every form, checked, and passed to
the run's Environment (headless, web UI and `loadhopper demo` alike: all go through
`prepare`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_main_e2e import SIMPLE, run_cli, write

from loadhopper.cli import parse_options
from loadhopper.cli._main import prepare
from loadhopper.http import DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE, BodyLimits
from loadhopper.runtime import load_locustfile

PRINTS_LIMITS = (
    SIMPLE
    + """
from locust import events

@events.test_start.add_listener
def _(environment, **kwargs):
    limits = environment.body_limits
    print(f"LIMITS {limits.max_body_size} {limits.max_decoded_size}", flush=True)
"""
)


def _limits(stdout: str) -> list[int]:
    line = next(line for line in stdout.splitlines() if line.startswith("LIMITS "))
    return [int(part) for part in line.split()[1:]]


@pytest.mark.parametrize(
    ("argv", "environ", "config", "body", "decoded"),
    [
        ([], {}, "", DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE),
        (["--max-body-size", "1000000"], {}, "", 1_000_000, DEFAULT_MAX_DECODED_SIZE),
        (["--max-decoded-size", "10MiB"], {}, "", DEFAULT_MAX_BODY_SIZE, 10 * 1024**2),
        (["--max-body-size=64KB", "--max-decoded-size=1GiB"], {}, "", 64_000, 1024**3),
        ([], {"LOCUST_MAX_BODY_SIZE": "2MB"}, "", 2_000_000, DEFAULT_MAX_DECODED_SIZE),
        ([], {"LOADHOPPER_MAX_DECODED_SIZE": "3KiB"}, "", DEFAULT_MAX_BODY_SIZE, 3072),
        ([], {}, "max-body-size = 5MB\nmax_decoded_size = 6MB\n", 5_000_000, 6_000_000),
        (["--max-body-size", "7"], {"LOCUST_MAX_BODY_SIZE": "8"}, "max-body-size = 9\n", 7,
         DEFAULT_MAX_DECODED_SIZE),  # the command line wins, as for every option
    ],
)  # fmt: skip
def test_parsed_from_every_source(
    tmp_path: Path, argv: list[str], environ: dict[str, str], config: str, body: int, decoded: int
) -> None:
    if config:
        (tmp_path / "locust.conf").write_text(config)
    options = parse_options(argv, environ=environ, cwd=tmp_path, home=tmp_path / "home")
    assert (options.max_body_size, options.max_decoded_size) == (body, decoded)
    namespace = options.as_namespace()  # as locustfiles read them
    assert (namespace.max_body_size, namespace.max_decoded_size) == (body, decoded)


def test_prepare_gives_the_environment_the_limits(tmp_path: Path) -> None:
    locustfile = write(tmp_path, "locustfile.py", SIMPLE)
    argv = ["-f", str(locustfile), "--max-body-size", "1KiB", "--max-decoded-size", "2KiB"]
    options = parse_options(argv, environ={}, cwd=tmp_path, home=tmp_path)
    env = prepare(load_locustfile(options.locustfile), options)
    assert env.body_limits == BodyLimits(max_body_size=1024, max_decoded_size=2048)
    defaults = parse_options(["-f", str(locustfile)], environ={}, cwd=tmp_path, home=tmp_path)
    assert prepare(load_locustfile(str(locustfile)), defaults).body_limits == BodyLimits(
        max_body_size=DEFAULT_MAX_BODY_SIZE, max_decoded_size=DEFAULT_MAX_DECODED_SIZE
    )


def test_a_headless_run_receives_them(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", PRINTS_LIMITS)
    result = run_cli(
        tmp_path, "--headless", "-H", "http://127.0.0.1:1", "-u", "0", "-t", "0.2s",
        "--only-summary", "--max-body-size", "10MB", env={"LOCUST_MAX_DECODED_SIZE": "1GB"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _limits(result.stdout) == [10_000_000, 1_000_000_000]
    default = run_cli(
        tmp_path, "--headless", "-H", "http://127.0.0.1:1", "-u", "0", "-t", "0.2s",
        "--only-summary",
    )  # fmt: skip
    assert default.returncode == 0, default.stderr
    assert _limits(default.stdout) == [DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_DECODED_SIZE]


def test_the_web_ui_run_receives_them(tmp_path: Path) -> None:
    write(tmp_path, "locustfile.py", PRINTS_LIMITS)
    result = run_cli(
        tmp_path, "--autostart", "--autoquit", "0", "-P", "0", "-H", "http://127.0.0.1:1",
        "-u", "0", "-t", "0.2s", "--only-summary", "--max-body-size", "1KiB",
        "--max-decoded-size", "5MiB",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _limits(result.stdout) == [1024, 5 * 1024**2]


@pytest.mark.parametrize("flag", ["--max-body-size", "--max-decoded-size"])
@pytest.mark.parametrize("value", ["0", "-1", "10K", "1.5", "lots", "1TB"])
def test_bad_sizes_are_usage_errors(tmp_path: Path, flag: str, value: str) -> None:
    write(tmp_path, "locustfile.py", SIMPLE)
    result = run_cli(tmp_path, "--headless", "-t", "30s", flag, value)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and flag in result.stderr
    assert "64KiB" in result.stderr  # it says how to write a size
