"""What the start and edit forms ask for, once validated (see `_forms.py`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

__all__ = ["ClassSetting", "CustomOption", "EditParameters", "OptionKind", "StartParameters"]


@dataclass(frozen=True, slots=True)
class ClassSetting:
    """One User class's share of the users, as the class picker sets it.

    Attributes:
        weight: how often the class is picked, relative to the other weighted classes.
        fixed_count: when above 0, exactly this many users, whatever the weight.
    """

    weight: int
    fixed_count: int


@dataclass(frozen=True, slots=True)
class StartParameters:
    """A new test, as the start form describes it.

    Attributes:
        users: the peak number of users.
        spawn_rate: users started per second.
        host: the target (an http or https URL), or None to use each User class's `host`.
        run_time: seconds after which the test stops (ramp-up included), or None.
        user_classes: the names of the User classes to run; empty runs them all.
        class_settings: (class name, setting) pairs the class picker changed; the classes
            keep them for later tests, as in Locust.
        options: (destination, value as sent) pairs for the locustfile's own options; the
            controller converts them against its `CustomOption`s.
    """

    users: int
    spawn_rate: float
    host: str | None = None
    run_time: float | None = None
    user_classes: tuple[str, ...] = ()
    class_settings: tuple[tuple[str, ClassSetting], ...] = ()
    options: tuple[tuple[str, str | bool | tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class EditParameters:
    """A change to the running test: the new user count and the rate to reach it.

    Attributes:
        users: the number of users wanted.
        spawn_rate: users started or stopped per second.
    """

    users: int
    spawn_rate: float


class OptionKind(Enum):
    """How the start form shows a locustfile option (as Locust's form does)."""

    TEXT = "text"
    SECRET = "secret"  # is_secret=True: a password field
    CHOICE = "choice"  # choices=[...]: a select (several values with is_multiple=True)
    FLAG = "flag"  # store_true/store_false, or a bool default: a checkbox


@dataclass(frozen=True, slots=True)
class CustomOption:
    """One option a locustfile added with `init_command_line_parser`, for the start form.

    Attributes:
        dest: the `parsed_options` attribute it sets.
        flag: the longest option string, e.g. `--my-token`, as the form's label.
        help: the option's help text ("" when it has none).
        kind: how the form shows it.
        default: the value the command line gave (or the option's default).
        required: the form refuses to start without a value (`is_required=True`).
        multiple: several choices may be picked (`is_multiple=True`).
        choices: the allowed values, as text, for a CHOICE.
        convert: turns the form's text into the option's type (argparse's `type=`, else
            the default's type); None keeps text.
    """

    dest: str
    flag: str
    help: str
    kind: OptionKind
    default: object
    required: bool = False
    multiple: bool = False
    choices: tuple[str, ...] = ()
    convert: Callable[[str], object] | None = None
