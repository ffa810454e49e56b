"""The cat form: what a client may send as a cat's name and age, and the reason when it is wrong.

Parsing is pure (no I/O), so that every rule is tested without a server. A bad field gives a
`FormProblem` with one plain sentence for the response body, never an exception, so that the
route turns it into a 400 instead of a 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AGE_MAX", "AGE_MIN", "NAME_MAX_CHARS", "CatForm", "FormProblem", "parse_cat_form"]

# Long enough for any real name, short enough that the index page stays readable.
NAME_MAX_CHARS = 100
# Ages are whole years. The oldest cat on record lived 38 years, so 100 accepts every real cat
# with room to spare while still catching typos such as 350.
AGE_MIN = 0
AGE_MAX = 100

# ASCII digits only: int() would also accept "1_000", " ٣ " and thousands of digits.
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
# More digits than this cannot be in range, whatever they are; checked before int() is called.
_MAX_AGE_DIGITS = len(str(AGE_MAX))


@dataclass(frozen=True, slots=True)
class CatForm:
    """A valid name and age, ready to be stored."""

    name: str
    age: int


@dataclass(frozen=True, slots=True)
class FormProblem:
    """Why a form was refused: one sentence saying what was wrong and what to send instead."""

    reason: str


def parse_cat_form(fields: Mapping[str, object]) -> CatForm | FormProblem:
    """Validate the `name` and `age` fields of a create or update form.

    The name is stripped of surrounding whitespace and otherwise kept verbatim (quotes, SQL and
    HTML included: the store binds it as a parameter and pages escape it).

    Args:
        fields: the submitted form fields (values are strings; uploads are refused).

    Returns:
        The parsed form, or the problem with the first bad field.
    """
    name = _parse_name(fields.get("name"))
    if isinstance(name, FormProblem):
        return name
    age = _parse_age(fields.get("age"))
    if isinstance(age, FormProblem):
        return age
    return CatForm(name=name, age=age)


def _parse_name(value: object) -> str | FormProblem:
    if value is None:
        return FormProblem(
            f"name is missing: send a form field 'name' of 1 to {NAME_MAX_CHARS} characters."
        )
    if not isinstance(value, str):
        return FormProblem("name must be a text field, not a file upload.")
    name = value.strip()
    if not name:
        return FormProblem(f"name is empty: send 1 to {NAME_MAX_CHARS} characters.")
    if len(name) > NAME_MAX_CHARS:
        return FormProblem(f"name is {len(name)} characters long: send at most {NAME_MAX_CHARS}.")
    return name


def _parse_age(value: object) -> int | FormProblem:
    expected = f"a whole number from {AGE_MIN} to {AGE_MAX}"
    if value is None:
        return FormProblem(f"age is missing: send a form field 'age' with {expected}.")
    if not isinstance(value, str):
        return FormProblem("age must be a text field, not a file upload.")
    text = value.strip()
    if not text:
        return FormProblem(f"age is empty: send {expected}.")
    if _WHOLE_NUMBER.fullmatch(text) is None:
        return FormProblem(f"age {_shorten(text)!r} is not a whole number: send {expected}.")
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > _MAX_AGE_DIGITS or not AGE_MIN <= int(text) <= AGE_MAX:
        return FormProblem(f"age {_shorten(text)} is out of range: send {expected}.")
    return int(text)


def _shorten(text: str) -> str:
    # Echo enough of a bad value to recognise it, but keep the reason one short line.
    return text if len(text) <= 20 else text[:20] + "..."
