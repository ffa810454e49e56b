"""`locust.stats.PERCENTILES_TO_REPORT`, `stats_printer`/`stats_history` and `locust.main`.

Assigning the shim module's attribute reaches the setting an Environment built without
`percentiles=` reads once; the CLI's locustfile loading puts the default back first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadhopper._exceptions import ConfigError, LocustfileError
from loadhopper.runtime import Environment, install_locust_alias, load_locustfile
from loadhopper.stats import DEFAULT_PERCENTILES
from loadhopper.stats._settings import reset_report_percentiles


@pytest.fixture
def setting(clean_locust_modules: None) -> Iterator[None]:
    install_locust_alias()
    yield
    reset_report_percentiles()


def test_assigning_the_shim_attribute_sets_the_environments_percentiles(setting: None) -> None:
    import locust.stats

    assert list(locust.stats.PERCENTILES_TO_REPORT) == list(DEFAULT_PERCENTILES)
    locust.stats.PERCENTILES_TO_REPORT = [0.5, 0.9, 0.999]
    from locust.stats import PERCENTILES_TO_REPORT

    assert PERCENTILES_TO_REPORT == [0.5, 0.9, 0.999]
    env = Environment()
    assert env.stats.percentiles == (0.5, 0.9, 0.999)
    assert env.stats.snapshot(0.0).percentiles == (0.5, 0.9, 0.999)
    # An explicit parameter wins; a list edited in place is read at the next construction.
    assert Environment(percentiles=(0.75,)).stats.percentiles == (0.75,)
    locust.stats.PERCENTILES_TO_REPORT.append(1.0)
    assert Environment().stats.percentiles == (0.5, 0.9, 0.999, 1.0)
    assert env.stats.percentiles == (0.5, 0.9, 0.999)  # an environment keeps its own


@pytest.mark.parametrize(
    "value",
    [[50, 95], [0.0, 0.5], [0.5, 1.5], [], "0.5", [True], [float("nan")], 0.95],
)
def test_a_bad_value_is_refused_at_the_assignment(setting: None, value: object) -> None:
    import locust.stats

    with pytest.raises(ConfigError, match="PERCENTILES_TO_REPORT"):
        locust.stats.PERCENTILES_TO_REPORT = value
    assert Environment().stats.percentiles == DEFAULT_PERCENTILES


def test_a_bad_in_place_edit_is_refused_when_an_environment_reads_it(setting: None) -> None:
    import locust.stats

    locust.stats.PERCENTILES_TO_REPORT.append(95)
    with pytest.raises(ConfigError, match=r"fractions in \(0, 1\]"):
        Environment()


def test_loading_a_locustfile_resets_the_setting_first(setting: None, tmp_path: Path) -> None:
    import locust.stats

    locust.stats.PERCENTILES_TO_REPORT = [0.1]
    plain = tmp_path / "plain_percentiles_file.py"
    plain.write_text(
        "from locust import User, task\n\nclass U(User):\n    @task\n    def t(self):\n"
        "        pass\n"
    )
    load_locustfile(str(plain))
    assert Environment().stats.percentiles == DEFAULT_PERCENTILES
    setting_file = tmp_path / "setting_percentiles_file.py"
    setting_file.write_text(
        "import locust.stats\nfrom locust import User, task\n\n"
        "locust.stats.PERCENTILES_TO_REPORT = [0.5, 0.99]\n\n"
        "class U(User):\n    @task\n    def t(self):\n        pass\n"
    )
    load_locustfile(str(setting_file))
    assert Environment().stats.percentiles == (0.5, 0.99)
    bad = tmp_path / "bad_percentiles_file.py"
    bad.write_text("import locust.stats\nlocust.stats.PERCENTILES_TO_REPORT = [99]\n")
    with pytest.raises(LocustfileError, match="line 2: ConfigError"):
        load_locustfile(str(bad))


def test_locust_main_offers_main_create_environment_and_version(setting: None) -> None:
    import argparse

    from locust.main import create_environment, main, version

    from loadhopper import __version__, events

    options = argparse.Namespace(host="http://127.0.0.1:1", reset_stats=True, stop_timeout=2.0)
    env = create_environment([], options, events=events)
    assert env.host == "http://127.0.0.1:1" and env.reset_stats and env.stop_timeout == 2.0
    assert env.parsed_options is options and env.events is events
    assert version == __version__ and callable(main)
