"""The distributed flags' checks: one sentence each, exit 2, before anything starts."""

from __future__ import annotations

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.cli._distributed import worker_count
from loadhopper.cli._options import parse_options
from loadhopper.cli._validation import check_options


def _check(*argv: str) -> None:
    check_options(parse_options(list(argv), environ={}))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--master",), r"through Ray .*--ray auto"),
        (("--worker",), r"through Ray .*--ray auto"),
        (("--master-host", "10.0.0.1"), r"through Ray"),
        (("--processes", "0"), r"-1 \(one per CPU core\) or at least 1"),
        (("--processes", "2", "--ray", "auto"), r"cannot be combined"),
        (("--workers", "2"), r"--workers needs --ray"),
        (("--ray", "auto", "--workers", "0"), r"at least 1"),
        (("--ray", "http://x"), r"not a Ray address"),
    ],
)
def test_bad_distributed_flags_are_refused_in_one_sentence(
    argv: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _check(*argv)


def test_good_distributed_flags_pass_and_minus_one_is_one_per_core() -> None:
    for argv in (
        ("--processes", "2"),
        ("--ray", "local", "--workers", "3"),
        ("--ray", "ray://h:10001"),
    ):
        _check(*argv)
    options = parse_options(["--processes", "-1"], environ={})
    check_options(options)
    assert worker_count(options) >= 1
