from __future__ import annotations

from pathlib import Path

import pytest

from loadhopper._exceptions import ConfigError
from loadhopper.cli import Options, parse_options


def parse(
    tmp_path: Path, argv: list[str] | None = None, environ: dict[str, str] | None = None
) -> Options:
    return parse_options(argv or [], environ=environ or {}, cwd=tmp_path, home=tmp_path / "home")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_locust_conf_format(tmp_path: Path) -> None:
    write(
        tmp_path / "locust.conf",
        """
# a comment
; another comment
[locust]
locustfile = files/load.py
headless
users = 100
spawn-rate = 10
run_time = 10m
tags = [Critical, Normal]
host: "http://target"
csv-full-history = false
""",
    )
    options = parse(tmp_path)
    assert options.locustfile == "files/load.py"
    assert options.headless is True
    assert options.num_users == 100
    assert options.spawn_rate == 10.0
    assert options.run_time == 600.0
    assert options.tags == ("Critical", "Normal")
    assert options.host == "http://target"
    assert options.stats_history_enabled is False


def test_pyproject_tables(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        """
[tool.locust]
users = 100
headless = true
tags = ["a", "b"]
run-time = "1m"
host = "http://locust"

[tool.loadhopper]
host = "http://loadhopper"
""",
    )
    options = parse(tmp_path)
    assert options.num_users == 100 and options.headless
    assert options.tags == ("a", "b")
    assert options.run_time == 60.0
    assert options.host == "http://loadhopper"  # [tool.loadhopper] over [tool.locust]


def test_precedence_from_pyproject_to_command_line(tmp_path: Path) -> None:
    # Each source sets `users` and one key nobody later overrides, so that both "the
    # later source wins" and "earlier sources still apply" are visible.
    write(tmp_path / "pyproject.toml", "[tool.locust]\nusers = 1\nhost = 'http://pyproject'\n")
    write(tmp_path / "home" / ".locust.conf", "users = 2\nspawn-rate = 2\n")
    write(tmp_path / "locust.conf", "users = 3\ncsv = from-locust-conf\n")
    write(tmp_path / "loadhopper.conf", "users = 4\njson-file = from-loadhopper-conf\n")
    write(tmp_path / "custom.conf", "users = 5\nlogfile = from-config\n")
    assert parse(tmp_path).num_users == 4
    with_config = parse(tmp_path, ["--config", "custom.conf"])
    assert with_config.num_users == 5
    assert with_config.host == "http://pyproject"
    assert with_config.spawn_rate == 2.0
    assert with_config.csv_prefix == "from-locust-conf"
    assert with_config.json_file == "from-loadhopper-conf"
    assert with_config.logfile == "from-config"
    env = {"LOCUST_USERS": "6"}
    assert parse(tmp_path, ["--config", "custom.conf"], env).num_users == 6
    assert parse(tmp_path, ["--config", "custom.conf", "-u", "7"], env).num_users == 7


def test_later_false_overrides_earlier_true(tmp_path: Path) -> None:
    write(tmp_path / "locust.conf", "headless = true\n")
    assert parse(tmp_path).headless is True
    assert parse(tmp_path, environ={"LOCUST_HEADLESS": "false"}).headless is False


def test_unknown_config_key_suggests(tmp_path: Path) -> None:
    write(tmp_path / "locust.conf", "users = 3\nspwan-rate = 5\n")
    with pytest.raises(ConfigError, match=r"locust\.conf line 2.*Did you mean spawn-rate\?"):
        parse(tmp_path)
    # Before the locustfile has added its flags (first pass), unknown keys wait.
    first = parse_options([], strict=False, environ={}, cwd=tmp_path, home=tmp_path)
    assert first.num_users == 3


def test_bad_config_value_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "locust.conf", "\nusers = many\n")
    with pytest.raises(ConfigError, match=r"locust\.conf line 2: users = 'many' is not valid"):
        parse(tmp_path)


def test_list_for_a_single_value_key_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.locust]\nhost = ['a', 'b']\n")
    with pytest.raises(ConfigError, match="takes one value"):
        parse(tmp_path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.conf does not exist"):
        parse(tmp_path, ["--config", "nowhere.conf"])


def test_config_file_from_environment(tmp_path: Path) -> None:
    write(tmp_path / "env.conf", "users = 8\n")
    assert parse(tmp_path, environ={"LOCUST_CONFIG": "env.conf"}).num_users == 8


def test_broken_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.locust\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        parse(tmp_path)
