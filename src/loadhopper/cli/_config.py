"""Config files and environment variables, in Locust's order of precedence.

Lowest to highest (a later source overrides an earlier one; the command line beats all):

1. `./pyproject.toml`: `[tool.locust]`, then `[tool.loadhopper]`
2. `~/.locust.conf`, then `./locust.conf`, then `./loadhopper.conf`
3. `--config FILE` (or `LOCUST_CONFIG` / `LOADHOPPER_CONFIG`)
4. environment: `LOCUST_*`, then `LOADHOPPER_*` (LOADHOPPER_ wins for the same key)
5. the command line

Keys are the long flag names without dashes in front (`spawn-rate`; `spawn_rate` works too).
Config files use Locust's `key = value` format: `#` and `;` start comments, `[section]`
lines are ignored, a bare `key` means `key = true`, and lists are written `[a, b]`.
"""

from __future__ import annotations

import argparse
import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadhopper._exceptions import ConfigError
from loadhopper.cli._parser import LocustArgumentParser

__all__ = ["Setting", "apply_settings", "collect_settings"]

ConfigValue = str | bool | list[str]

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0", ""}
# Locust's environment variable names that are not LOCUST_ + the flag name.
_ENV_NAME_EXCEPTIONS = {"master": "MODE_MASTER", "worker": "MODE_WORKER"}
# Flags that make no sense in a config file or the environment.
_NOT_CONFIGURABLE = {"help", "version", "config"}


@dataclass(frozen=True, slots=True)
class Setting:
    """One key = value pair from a config file or the environment.

    Attributes:
        key: the normalised key, e.g. `spawn-rate`.
        value: the raw value: text, a TOML bool, or a list of items.
        source: where it came from, for error messages (`locust.conf`, `LOCUST_USERS`).
        from_file: True for config files (an unknown key there is an error).
    """

    key: str
    value: ConfigValue
    source: str
    from_file: bool


def _normalise_key(key: str) -> str:
    return key.strip().lstrip("-").lower().replace("_", "-")


def _toml_value(value: Any) -> ConfigValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [str(item) for item in value]
    return str(value)


def _read_pyproject(path: Path) -> list[Setting]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or remove it.") from None
    tool = data.get("tool", {})
    settings: list[Setting] = []
    for table in ("locust", "loadhopper"):
        section = tool.get(table, {})
        if not isinstance(section, dict):
            continue
        source = f"{path.name} [tool.{table}]"
        settings += [
            Setting(_normalise_key(k), _toml_value(v), source, True) for k, v in section.items()
        ]
    return settings


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def _parse_conf_value(text: str) -> ConfigValue:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [_unquote(item.strip()) for item in text[1:-1].split(",") if item.strip()]
    return _unquote(text)


def read_conf_file(path: Path) -> list[Setting]:
    """Read a Locust-style `key = value` config file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from None
    settings: list[Setting] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line[0] in "#;" or (line.startswith("[") and line.endswith("]")):
            continue
        separator = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if separator < 0:
            key, value = line, "true"
        else:
            key, value = line[:separator], line[separator + 1 :]
        source = f"{path.name} line {number}"
        settings.append(Setting(_normalise_key(key), _parse_conf_value(value), source, True))
    return settings


def _config_file_from(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return environ.get("LOADHOPPER_CONFIG") or environ.get("LOCUST_CONFIG")


def collect_settings(
    argv: Sequence[str], environ: Mapping[str, str], cwd: Path, home: Path
) -> list[Setting]:
    """Read every config file that applies, lowest precedence first.

    Raises:
        ConfigError: `--config FILE` does not exist, or a file cannot be read or parsed.
    """
    settings = _read_pyproject(cwd / "pyproject.toml")
    for path in (home / ".locust.conf", cwd / "locust.conf", cwd / "loadhopper.conf"):
        if path.is_file():
            settings += read_conf_file(path)
    explicit = _config_file_from(argv, environ)
    if explicit is not None:
        path = Path(explicit) if Path(explicit).is_absolute() else cwd / explicit
        if not path.is_file():
            raise ConfigError(f"Config file {explicit} does not exist; check the --config path.")
        settings += read_conf_file(path)
    return settings


def _key_of(action: argparse.Action) -> str | None:
    if action.dest in _NOT_CONFIGURABLE or action.dest == argparse.SUPPRESS:
        return None
    longs = [name for name in action.option_strings if name.startswith("--")]
    if longs:
        return _normalise_key(longs[0])
    if action.option_strings:
        return None  # short-only flags have no config key
    return _normalise_key(action.dest)  # positionals: `user-classes`


def _actions_by_key(parser: LocustArgumentParser) -> dict[str, argparse.Action]:
    by_key = {}
    for action in parser._actions:  # argparse has no public accessor for its actions
        key = _key_of(action)
        if key is not None:
            by_key[key] = action
    return by_key


def env_settings(parser: LocustArgumentParser, environ: Mapping[str, str]) -> list[Setting]:
    """The environment variables that name a known option: LOCUST_* first, then LOADHOPPER_*.

    Unknown LOCUST_* variables are ignored, as Locust ignores them (several are knobs that
    are not options, such as LOCUST_SKIP_MONKEY_PATCH).
    """
    found: list[tuple[int, Setting]] = []
    for key, action in _actions_by_key(parser).items():
        suffix = _ENV_NAME_EXCEPTIONS.get(key, key.upper().replace("-", "_"))
        names = [f"LOCUST_{suffix}", f"LOADHOPPER_{suffix}"]
        custom = parser.env_vars.get(action.dest)
        if custom is not None:
            names.insert(1, custom)
        for rank, name in enumerate(names):
            if name in environ:
                found.append((rank, Setting(key, environ[name], name, False)))
    return [setting for _, setting in sorted(found, key=lambda pair: pair[0])]


def _to_bool(setting: Setting) -> bool:
    if isinstance(setting.value, bool):
        return setting.value
    text = str(setting.value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(
        f"{setting.source}: {setting.key} must be true or false, got {setting.value!r}."
    )


def _typed(action: argparse.Action, setting: Setting, text: str) -> Any:
    value: Any = text
    if action.type is not None:
        try:
            value = action.type(text)  # type: ignore[operator]
        except (ValueError, TypeError, argparse.ArgumentTypeError) as exc:
            raise ConfigError(
                f"{setting.source}: {setting.key} = {text!r} is not valid ({exc})."
            ) from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(str(choice) for choice in action.choices)
        raise ConfigError(f"{setting.source}: {setting.key} must be one of {choices}.")
    return value


def _convert(action: argparse.Action, setting: Setting) -> Any:
    raw = setting.value
    if action.nargs == 0:  # store_true, store_false, store_const
        if _to_bool(setting):
            return action.const
        # Not `action.default`: an earlier pass may already have replaced it.
        return (not action.const) if isinstance(action.const, bool) else None
    if action.nargs in ("*", "+") or isinstance(action, argparse._AppendAction):
        items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
        return [_typed(action, setting, item) for item in items]
    if isinstance(raw, list):
        raise ConfigError(f"{setting.source}: {setting.key} takes one value, not a list.")
    return _typed(action, setting, str(raw).lower() if isinstance(raw, bool) else raw)


def apply_settings(
    parser: LocustArgumentParser, settings: Iterable[Setting], *, strict: bool
) -> None:
    """Make the settings the parser's defaults, so that the command line still wins.

    Args:
        parser: the parser, with every flag added (locustfiles' custom flags included).
        settings: lowest precedence first; a later setting of the same key wins.
        strict: raise on a config-file key no flag knows (False before custom flags exist).

    Raises:
        ConfigError: an unknown key (with a "did you mean" suggestion) or a bad value.
    """
    by_key = _actions_by_key(parser)
    defaults: dict[str, Any] = {}
    for setting in settings:
        action = by_key.get(setting.key)
        if action is None:
            if strict and setting.from_file:
                close = difflib.get_close_matches(setting.key, list(by_key), n=1, cutoff=0.6)
                hint = f" Did you mean {close[0]}?" if close else ""
                raise ConfigError(f"{setting.source}: unknown option {setting.key!r}.{hint}")
            continue
        defaults[action.dest] = _convert(action, setting)
    parser.set_defaults(**defaults)
