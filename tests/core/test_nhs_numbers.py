"""The NHS number check digit, tested against an independent implementation."""

import itertools

import pytest
from django import forms
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from core.nhs_numbers import (
    NHSNumberField,
    nhs_number_format,
    nhs_number_is_valid,
    nhs_number_normalise,
    nhs_test_number,
    nhs_test_numbers,
)


def reference_is_valid(number: str) -> bool:
    """Written from the NHS Data Dictionary's description, independently of core.nhs_numbers."""
    if len(number) != 10 or any(c not in "0123456789" for c in number):
        return False
    digits = [int(c) for c in number]
    remainder = sum(d * (10 - i) for i, d in enumerate(digits[:9])) % 11
    expected = 11 - remainder
    if expected == 11:
        expected = 0
    return expected != 10 and expected == digits[9]


ten_digits = st.text(alphabet="0123456789", min_size=10, max_size=10)


@given(ten_digits)
def test_agrees_with_the_reference_on_any_ten_digits(number):
    assert nhs_number_is_valid(number) == reference_is_valid(number)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_every_valid_number_survives_separators(first_nine):
    for last in "0123456789":
        number = first_nine + last
        if reference_is_valid(number):
            spaced = f" {number[:3]} {number[3:6]}-{number[6:]} "
            assert nhs_number_normalise(spaced) == number
            assert nhs_number_format(number) == f"{number[:3]} {number[3:6]} {number[6:]}"


@given(st.text(max_size=30))
def test_arbitrary_text_is_refused_unless_it_is_a_valid_number(text):
    stripped = "".join(c for c in text if not (c.isspace() or c == "-"))
    if reference_is_valid(stripped):
        assert nhs_number_normalise(text) == stripped
    else:
        with pytest.raises(ValidationError):
            nhs_number_normalise(text)


@pytest.mark.parametrize(
    "value",
    [
        "9434765918",  # wrong check digit
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "943 476 591X",
        "１２３４５６７８９０",  # full-width digits are not ASCII digits
        "9434765919; DROP TABLE plans_plan",
        "<script>alert(1)</script>",
        "1" * 5000,
        "",
    ],
)
def test_form_field_refuses_bad_input_with_a_clear_message(value):
    class CheckForm(forms.Form):
        nhs_number = NHSNumberField()

    form = CheckForm({"nhs_number": value})
    assert not form.is_valid()
    message = form.errors["nhs_number"][0]
    assert message in ("Enter a valid 10-digit NHS number, like 943 476 5919", "Enter the NHS number")


def test_form_field_accepts_spaces_and_hyphens():
    class CheckForm(forms.Form):
        nhs_number = NHSNumberField()

    form = CheckForm({"nhs_number": "943-476-5919"})
    assert form.is_valid() and form.cleaned_data["nhs_number"] == "9434765919"


@given(st.integers(min_value=0, max_value=999_000))
def test_test_numbers_are_valid_in_order_and_in_the_test_range(start):
    numbers = list(itertools.islice(nhs_test_numbers(start), 3))
    assert all(reference_is_valid(n) and n.startswith("999") for n in numbers)
    assert numbers == sorted(set(numbers))
    assert int(numbers[0][3:9]) >= start
    assert nhs_test_number(start) == numbers[0]


def test_test_numbers_take_a_prefix_and_refuse_one_that_leaves_no_room():
    assert nhs_test_number(7, prefix="9990").startswith("999000007")
    with pytest.raises(ValueError):
        nhs_test_number(10**6, prefix="9990")
