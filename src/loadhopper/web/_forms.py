"""Validating the start and edit forms (JSON bodies) into typed parameters.

Every rejection is a `ConfigError` whose message is one sentence naming the field, what was
wrong and what to enter instead; the app answers it with 400 and that sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from loadhopper._exceptions import ConfigError
from loadhopper.web._parameters import EditParameters, StartParameters

__all__ = ["MAX_USERS", "parse_edit_form", "parse_start_form", "parse_timespan", "validate_host"]

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


def parse_start_form(form: object) -> StartParameters:
    """Validate the start form: users, spawn_rate, and optional host, run_time, user_classes.

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
    )


def parse_edit_form(form: object) -> EditParameters:
    """Validate the edit form: users and spawn_rate.

    Raises:
        ConfigError: a field is missing or invalid (the message names it).
    """
    if not isinstance(form, dict):
        raise ConfigError("The form must be a JSON object.")
    return EditParameters(users=_users(form), spawn_rate=_spawn_rate(form))
