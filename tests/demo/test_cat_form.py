import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadhopper.demo._cat_form import (
    AGE_MAX,
    AGE_MIN,
    NAME_MAX_CHARS,
    CatForm,
    FormProblem,
    parse_cat_form,
)


def test_a_good_form_parses() -> None:
    assert parse_cat_form({"name": "Tom", "age": "3"}) == CatForm("Tom", 3)


def test_surrounding_whitespace_is_stripped_and_inner_text_kept() -> None:
    assert parse_cat_form({"name": "  Tom  Cat \t", "age": " +07 "}) == CatForm("Tom  Cat", 7)


WANT_AGE = "a whole number from 0 to 100."


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"age": "3"}, "name is missing: send a form field 'name' of 1 to 100 characters."),
        ({"name": " ", "age": "3"}, "name is empty: send 1 to 100 characters."),
        ({"name": "x" * 101, "age": "3"}, "name is 101 characters long: send at most 100."),
        ({"name": b"Tom", "age": "3"}, "name must be a text field, not a file upload."),
        ({"name": "Tom"}, f"age is missing: send a form field 'age' with {WANT_AGE}"),
        ({"name": "Tom", "age": "  "}, f"age is empty: send {WANT_AGE}"),
        ({"name": "Tom", "age": "٣"}, f"age '٣' is not a whole number: send {WANT_AGE}"),
        ({"name": "Tom", "age": "1_0"}, f"age '1_0' is not a whole number: send {WANT_AGE}"),
        ({"name": "Tom", "age": "+-1"}, f"age '+-1' is not a whole number: send {WANT_AGE}"),
        ({"name": "Tom", "age": "-1"}, f"age -1 is out of range: send {WANT_AGE}"),
        (
            {"name": "Tom", "age": "0" * 30 + "101"},
            f"age {'0' * 20}... is out of range: send {WANT_AGE}",
        ),
    ],
)
def test_each_bad_field_has_its_own_one_line_reason(fields: dict[str, object], reason: str) -> None:
    assert parse_cat_form(fields) == FormProblem(reason)


def test_the_name_is_checked_before_the_age() -> None:
    problem = parse_cat_form({"name": "", "age": "old"})
    assert isinstance(problem, FormProblem) and problem.reason.startswith("name")


def test_leading_zeros_do_not_push_an_age_out_of_range() -> None:
    assert parse_cat_form({"name": "Tom", "age": "0" * 50 + "12"}) == CatForm("Tom", 12)


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_an_age_is_accepted_exactly_when_it_is_in_range(age: int) -> None:
    parsed = parse_cat_form({"name": "Tom", "age": str(age)})
    if AGE_MIN <= age <= AGE_MAX:
        assert parsed == CatForm("Tom", age)
    else:
        assert isinstance(parsed, FormProblem) and "out of range" in parsed.reason


@given(st.text(max_size=2 * NAME_MAX_CHARS))
def test_a_name_is_accepted_exactly_when_its_stripped_length_fits(name: str) -> None:
    parsed = parse_cat_form({"name": name, "age": "1"})
    if 1 <= len(name.strip()) <= NAME_MAX_CHARS:
        assert parsed == CatForm(name.strip(), 1)
    else:
        assert isinstance(parsed, FormProblem)
        assert "\n" not in parsed.reason
