"""Validating the start and edit forms (JSON bodies) into typed parameters.

Every rejection is a `ConfigError` whose message is one sentence naming the field, what was
wrong and what to enter instead; the app answers it with 400 and that sentence.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from loadhopper._exceptions import ConfigError
from loadhopper.user import User
from loadhopper.web._parameters import (
    ClassSetting,
    CustomOption,
    EditParameters,
    OptionKind,
    StartParameters,
)

__all__ = [
    "MAX_USERS",
    "check_class_settings",
    "custom_options",
    "parse_edit_form",
    "parse_start_form",
    "parse_timespan",
    "resolve_options",
    "setting_of",
    "validate_host",
]

# A bound on what one form can ask for, so that a typo (an extra zero or six) cannot ask a
# single process for more users than it can ever hold (DESIGN.md: about 10,000 per process).
MAX_USERS = 1_000_000
MAX_HOST_CHARS = 2048
_TIMESPAN = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def validate_host(text: str) -> str:
    """Return the host URL, stripped, if it is an http or https URL with a host part.

    The host field decides where load goes, so nothing but a plain web URL is accepted
    (Locust accepts anything, reference/locust.md §5 item 10).

    Raises:
        ConfigError: another scheme, no host part, or an unreasonably long value.
    """
    host = text.strip()
    if len(host) > MAX_HOST_CHARS:
        raise ConfigError(f"The host is longer than {MAX_HOST_CHARS} characters; shorten it.")
    try:
        parts = urlsplit(host)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        raise ConfigError(
            f"The host {host!r} is not a valid URL; enter e.g. http://127.0.0.1:8000."
        ) from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"The host must start with http:// or https://, got {host!r}; "
            "enter e.g. http://127.0.0.1:8000."
        )
    if not parts.hostname:
        raise ConfigError(f"The host {host!r} has no host name; enter e.g. http://127.0.0.1:8000.")
    if any(ch.isspace() or ord(ch) < 32 for ch in host):
        raise ConfigError("The host must not contain spaces or control characters.")
    return host


def parse_timespan(text: str) -> float:
    """Seconds from `20`, `20s`, `3m`, `1h30m`, `1.5` (the CLI's `-t` format).

    Raises:
        ConfigError: the text is not a time span, or is not above 0.
    """
    match = _TIMESPAN.match(text.strip().lower())
    if not text.strip() or match is None:
        raise ConfigError(
            f"The run time {text!r} is not a time span; enter e.g. 90, 90s, 5m or 1h30m."
        )
    hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ConfigError("The run time must be above 0; leave it empty to run until stopped.")
    return total


def _users(form: Mapping[str, object]) -> int:
    value = form.get("users")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_USERS:
        raise ConfigError(f"Number of users must be a whole number from 0 to {MAX_USERS}.")
    return value


def _spawn_rate(form: Mapping[str, object]) -> float:
    value = form.get("spawn_rate")
    try:
        rate = (
            float(value)
            if isinstance(value, int | float | str) and not isinstance(value, bool)
            else math.nan
        )
    except ValueError:
        rate = math.nan
    if not math.isfinite(rate) or rate <= 0:
        raise ConfigError("Spawn rate must be a number of users per second above 0.")
    return rate


def _optional_text(form: Mapping[str, object], key: str, label: str) -> str | None:
    value = form.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{label} must be text.")
    return value.strip() or None


def _whole(value: object, label: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_USERS:
        raise ConfigError(f"{label} must be a whole number from 0 to {MAX_USERS}.")
    return value


def _class_settings(form: Mapping[str, object]) -> tuple[tuple[str, ClassSetting], ...]:
    settings = form.get("class_settings", {})
    if not isinstance(settings, dict):
        raise ConfigError("class_settings must map User class names to weight and fixed_count.")
    parsed = []
    for name, entry in settings.items():
        if not isinstance(entry, dict):
            raise ConfigError(f"The settings of {name!r} must hold weight and fixed_count.")
        weight = _whole(entry.get("weight"), f"The weight of {name}")
        fixed = _whole(entry.get("fixed_count", 0), f"The fixed count of {name}")
        parsed.append((str(name), ClassSetting(weight=weight, fixed_count=fixed)))
    return tuple(parsed)


def _raw_options(
    form: Mapping[str, object],
) -> tuple[tuple[str, str | bool | tuple[str, ...]], ...]:
    options = form.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError("options must map the locustfile's option names to their values.")
    parsed: list[tuple[str, str | bool | tuple[str, ...]]] = []
    for dest, value in options.items():
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            parsed.append((str(dest), tuple(value)))
        elif isinstance(value, str | bool):
            parsed.append((str(dest), value))
        else:
            raise ConfigError(f"The option {dest!r} must be text, true/false or a list of text.")
    return tuple(parsed)


def setting_of(cls: type[User]) -> ClassSetting:
    """A User class's weight and fixed count now."""
    return ClassSetting(weight=int(cls.weight), fixed_count=int(cls.fixed_count))


def check_class_settings(
    changes: Iterable[tuple[str, ClassSetting]],
    classes: Sequence[type[User]],
    chosen: Sequence[type[User]],
) -> dict[type[User], ClassSetting]:
    """The classes the picker changes, by class; checked against every class of the run.

    Raises:
        ConfigError: an unknown class, or the chosen classes would get no user at all.
    """
    by_name = {cls.__name__: cls for cls in classes}
    settings: dict[type[User], ClassSetting] = {}
    for name, setting in changes:
        if name not in by_name:
            raise ConfigError(f"Unknown User class {name!r}; choose from {', '.join(by_name)}.")
        settings[by_name[name]] = setting
    if settings:
        after = {cls: settings.get(cls) or setting_of(cls) for cls in chosen}
        if not any(s.weight > 0 or s.fixed_count > 0 for s in after.values()):
            raise ConfigError(
                "Every chosen User class has weight 0 and fixed count 0; "
                "give one of them a weight or a fixed count above 0."
            )
    return settings


def parse_start_form(form: object) -> StartParameters:
    """Validate the start form: users, spawn_rate, and optional host, run_time, user_classes,
    class_settings (`{name: {weight, fixed_count}}`) and options (`{dest: value}`).

    Raises:
        ConfigError: a field is missing or invalid (the message names it).
    """
    if not isinstance(form, dict):
        raise ConfigError("The form must be a JSON object.")
    host = _optional_text(form, "host", "Host")
    run_time = _optional_text(form, "run_time", "Run time")
    classes = form.get("user_classes", [])
    if not isinstance(classes, list) or not all(isinstance(name, str) for name in classes):
        raise ConfigError("user_classes must be a list of User class names.")
    return StartParameters(
        users=_users(form),
        spawn_rate=_spawn_rate(form),
        host=validate_host(host) if host else None,
        run_time=parse_timespan(run_time) if run_time else None,
        user_classes=tuple(classes),
        class_settings=_class_settings(form),
        options=_raw_options(form),
    )


def parse_edit_form(form: object) -> EditParameters:
    """Validate the edit form: users and spawn_rate.

    Raises:
        ConfigError: a field is missing or invalid (the message names it).
    """
    if not isinstance(form, dict):
        raise ConfigError("The form must be a JSON object.")
    return EditParameters(users=_users(form), spawn_rate=_spawn_rate(form))


# ---- the locustfile's own options ----------------------------------------------------------


def _converter(action: argparse.Action, default: object) -> Callable[[str], object] | None:
    if callable(action.type):
        return action.type
    # As Locust's form does: a value keeps the type of the option's default.
    if isinstance(default, int | float) and not isinstance(default, bool):
        return type(default)
    return None


def custom_options(actions: Iterable[argparse.Action], values: Any) -> tuple[CustomOption, ...]:
    """The start form's fields for a locustfile's own options.

    Args:
        actions: the options the locustfile added (Locust's own are left out by the caller);
            those with `include_in_web_ui=False` (Locust's default is True) are skipped.
        values: the parsed command line (`environment.parsed_options`), for each default.
    """
    fields = []
    for action in actions:
        if not action.option_strings or not getattr(action, "include_in_web_ui", True):
            continue
        default = getattr(values, action.dest, action.default)
        if isinstance(default, bool) or (action.nargs == 0 and isinstance(action.const, bool)):
            kind = OptionKind.FLAG
        elif action.choices:
            kind = OptionKind.CHOICE
        elif getattr(action, "is_secret", False):
            kind = OptionKind.SECRET
        else:
            kind = OptionKind.TEXT
        fields.append(
            CustomOption(
                dest=action.dest,
                flag=max(action.option_strings, key=len),
                help=str(action.help or ""),
                kind=kind,
                default=default,
                required=bool(getattr(action, "is_required", False)),
                multiple=bool(getattr(action, "is_multiple", False)),
                choices=tuple(str(choice) for choice in action.choices or ()),
                convert=_converter(action, default),
            )
        )
    return tuple(fields)


def _convert_one(option: CustomOption, text: str) -> object:
    if option.kind is OptionKind.CHOICE and text not in option.choices:
        raise ConfigError(f"{option.flag} must be one of {', '.join(option.choices)}.")
    if option.convert is None:
        return text
    try:
        return option.convert(text)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        shown = "the value entered" if option.kind is OptionKind.SECRET else repr(text)
        raise ConfigError(f"{option.flag} cannot take {shown}; enter a valid value.") from None


def _convert(option: CustomOption, value: str | bool | tuple[str, ...]) -> object:
    if option.kind is OptionKind.FLAG:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(f"{option.flag} is a checkbox; send true or false.")
        return value
    if isinstance(value, bool):
        raise ConfigError(f"{option.flag} takes text, not true or false.")
    texts = value if isinstance(value, tuple) else (value,)
    if isinstance(value, tuple) and not option.multiple:
        raise ConfigError(f"{option.flag} takes one value, not a list.")
    if option.kind is OptionKind.SECRET and not any(texts) and option.default not in (None, ""):
        return option.default  # the page never holds a secret: empty keeps the command line's
    if option.required and not any(text.strip() for text in texts):
        raise ConfigError(f"{option.flag} is required; enter a value.")
    if option.convert is not None and not any(texts):
        return option.default  # an emptied number field keeps the command line's value
    converted = [_convert_one(option, text) for text in texts]
    return converted if option.multiple else converted[0]


def resolve_options(
    raw: Iterable[tuple[str, str | bool | tuple[str, ...]]], options: Iterable[CustomOption]
) -> dict[str, object]:
    """The `parsed_options` values the form sets: converted, checked, required ones present.

    Raises:
        ConfigError: an unknown option, a missing required one, or a value of the wrong type.
    """
    by_dest = {option.dest: option for option in options}
    values: dict[str, object] = {}
    for dest, value in raw:
        option = by_dest.get(dest)
        if option is None:
            raise ConfigError(f"The form sent an unknown option {dest!r}; reload the page.")
        values[dest] = _convert(option, value)
    for option in by_dest.values():
        if option.required and option.dest not in values and option.default in (None, ""):
            raise ConfigError(f"{option.flag} is required; enter a value.")
    return values
