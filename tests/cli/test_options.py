from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.cli import Options, build_parser, parse_options


def parse(argv: list[str], tmp_path: Path, environ: dict[str, str] | None = None) -> Options:
    return parse_options(argv, environ=environ or {}, cwd=tmp_path, home=tmp_path / "home")


def test_defaults_match_the_dataclass(tmp_path: Path) -> None:
    assert parse([], tmp_path) == Options()


@pytest.mark.parametrize(
    ("argv", "field", "value"),
    [
        (["-f", "x.py"], "locustfile", "x.py"),
        (["--locustfile", "x.py"], "locustfile", "x.py"),
        (["-H", "http://h"], "host", "http://h"),
        (["--host", "http://h"], "host", "http://h"),
        (["-u", "50"], "num_users", 50),
        (["--users", "50"], "num_users", 50),
        (["-r", "2.5"], "spawn_rate", 2.5),
        (["--spawn-rate", "7"], "spawn_rate", 7.0),
        (["-t", "1h30m"], "run_time", 5400.0),
        (["--run-time", "20"], "run_time", 20.0),
        (["--headless"], "headless", True),
        (["--autostart"], "autostart", True),
        (["--autoquit", "10"], "autoquit", 10),
        (["--web-host", "127.0.0.1"], "web_host", "127.0.0.1"),
        (["-P", "9000"], "web_port", 9000),
        (["--web-port", "9000"], "web_port", 9000),
        (["--web-login"], "web_login", True),
        (["-T", "a", "b"], "tags", ("a", "b")),
        (["--tags", "a"], "tags", ("a",)),
        (["-E", "slow"], "exclude_tags", ("slow",)),
        (["--exclude-tags", "x", "y"], "exclude_tags", ("x", "y")),
        (["--csv", "out/run"], "csv_prefix", "out/run"),
        (["--csv-full-history"], "stats_history_enabled", True),
        (["--html", "r.html"], "html_file", "r.html"),
        (["--json"], "json", True),
        (["--json-file", "summary"], "json_file", "summary"),
        (["--print-stats"], "print_stats", True),
        (["--only-summary"], "only_summary", True),
        (["--reset-stats"], "reset_stats", True),
        (["-L", "debug"], "loglevel", "DEBUG"),
        (["--loglevel", "WARNING"], "loglevel", "WARNING"),
        (["--logfile", "x.log"], "logfile", "x.log"),
        (["--skip-log-setup"], "skip_log_setup", True),
        (["-s", "30"], "stop_timeout", 30.0),
        (["--stop-timeout", "1m"], "stop_timeout", 60.0),
        (["--exit-code-on-error", "0"], "exit_code_on_error", 0),
        (["--equal-weights"], "equal_weights", True),
        (["-l"], "list_commands", True),
        (["--list"], "list_commands", True),
        (["--show-task-ratio"], "show_task_ratio", True),
        (["--show-task-ratio-json"], "show_task_ratio_json", True),
        (["--processes", "4"], "processes", 4),
        (["--master"], "master", True),
        (["--worker"], "worker", True),
        (["--master-host", "10.0.0.1"], "master_host", "10.0.0.1"),
        (["--master-port", "6000"], "master_port", 6000),
        (["--expect-workers", "3"], "expect_workers", 3),
        (["-V"], "version", True),
        (["-h"], "help", True),
        (["--no-url-templating"], "no_url_templating", True),
        (["--max-stats-rows", "50"], "max_stats_rows", 50),
        (["--max-body-size", "1MiB"], "max_body_size", 1024 * 1024),
        (["--max-decoded-size", "2GB"], "max_decoded_size", 2_000_000_000),
        (["UserA", "UserB"], "user_classes", ("UserA", "UserB")),
    ],
)
def test_every_flag(tmp_path: Path, argv: list[str], field: str, value: Any) -> None:
    assert getattr(parse(argv, tmp_path), field) == value


def test_positionals_mix_with_flags(tmp_path: Path) -> None:
    options = parse(["UserA", "--headless", "UserB", "-u", "3"], tmp_path)
    assert options.user_classes == ("UserA", "UserB")
    assert options.headless and options.num_users == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spawnrate", "3"], "Did you mean --spawn-rate?"),
        (["--user", "3"], "Did you mean --users?"),  # no silent abbreviations
        (["--headles"], "Did you mean --headless?"),
        (["--zzzzzz"], "Unknown option --zzzzzz."),
        (["-u", "many"], "invalid int value"),
        (["-t", "soon"], "not a time span"),
        (["-L", "chatty"], "invalid choice"),
        (["--max-stats-rows", "0"], "at least 1"),
        (["--max-body-size", "64K"], "is not a size"),
    ],
)
def test_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace(".", r"\.")):
        parse(argv, tmp_path)


def test_first_pass_tolerates_flags_from_the_locustfile(tmp_path: Path) -> None:
    options = parse_options(
        ["-f", "mine.py", "--my-flag", "1"], strict=False, environ={}, cwd=tmp_path
    )
    assert options.locustfile == "mine.py"


def test_custom_arguments_land_in_extra_and_namespace(tmp_path: Path) -> None:
    parser = build_parser()
    parser.add_argument("--my-flag", type=int, default=0, include_in_web_ui=True, is_secret=True)
    options = parse_options(["--my-flag", "3", "-T", "a"], parser, environ={}, cwd=tmp_path)
    assert options.extra == {"my_flag": 3}
    namespace = options.as_namespace()
    assert isinstance(namespace, argparse.Namespace)
    assert namespace.my_flag == 3
    assert namespace.tags == ["a"]  # lists, as Locust's parsed_options
    assert namespace.num_users is None and namespace.locustfile == "locustfile.py"


def test_env_vars(tmp_path: Path) -> None:
    environ = {
        "LOCUST_USERS": "5",
        "LOCUST_HEADLESS": "true",
        "LOCUST_TAGS": "a b",
        "LOCUST_RUN_TIME": "2m",
        "LOCUST_MODE_MASTER": "1",
        "LOCUST_SKIP_MONKEY_PATCH": "1",  # not an option: ignored, as Locust does
        "LOCUST_USER_CLASSES": "A B",
    }
    options = parse([], tmp_path, environ)
    assert options.num_users == 5
    assert options.headless and options.master
    assert options.tags == ("a", "b")
    assert options.run_time == 120.0
    assert options.user_classes == ("A", "B")


def test_loadhopper_env_wins_over_locust_env_and_flags_win_over_both(tmp_path: Path) -> None:
    environ = {"LOADHOPPER_USERS": "7", "LOCUST_USERS": "5"}
    assert parse([], tmp_path, environ).num_users == 7
    assert parse(["-u", "9"], tmp_path, environ).num_users == 9


def test_custom_env_var_of_a_custom_argument(tmp_path: Path) -> None:
    parser = build_parser()
    parser.add_argument("--greeting", env_var="MY_GREETING", default="hi")
    options = parse_options([], parser, environ={"MY_GREETING": "yo"}, cwd=tmp_path)
    assert options.extra["greeting"] == "yo"


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOCUST_USERS"):
        parse([], tmp_path, {"LOCUST_USERS": "lots"})
    with pytest.raises(ConfigError, match="true or false"):
        parse([], tmp_path, {"LOCUST_HEADLESS": "maybe"})
