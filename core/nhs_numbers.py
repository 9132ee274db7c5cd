"""NHS numbers: the one validator and form field every part of the service uses.

Ten digits; the tenth is a modulus-11 check digit over the first nine weighted 10 down to 2.
Spaces and hyphens are accepted on input and stripped. Nothing is ever guessed or corrected.
"""

import re
from collections.abc import Iterator
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

_SEPARATORS = re.compile(r"[\s-]+")
_WEIGHTS = range(10, 1, -1)

INVALID_MESSAGE = "Enter a valid 10-digit NHS number, like 943 476 5919"


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no number can end them (remainder 10)."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def nhs_number_is_valid(value: str) -> bool:
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    return nhs_number_check_digit(value[:9]) == int(value[9])


def nhs_number_normalise(value: str) -> str:
    """Returns the ten digits of a valid NHS number, or raises ValidationError."""
    if len(value or "") > 40:  # no separators make a number this long; don't scan huge input
        raise ValidationError(INVALID_MESSAGE, code="invalid_nhs_number")
    digits = _SEPARATORS.sub("", value or "")
    if not nhs_number_is_valid(digits):
        raise ValidationError(INVALID_MESSAGE, code="invalid_nhs_number")
    return digits


def validate_nhs_number(value: str) -> None:
    nhs_number_normalise(value)


def nhs_number_format(value: str) -> str:
    """For display: 943 476 5919."""
    return f"{value[:3]} {value[3:6]} {value[6:]}" if len(value) == 10 else value


def nhs_test_numbers(start: int = 0, *, prefix: str = "999") -> Iterator[str]:
    """Valid NHS numbers for the demo, tests and benchmarks, in order: `prefix` and a counter from
    `start` make the first nine digits, and a counter with no possible check digit (about 1 in 11)
    is skipped. The 999 range is never issued to a person."""
    width = 9 - len(prefix)
    n = start
    while True:
        first_nine = f"{prefix}{n:0{width}d}"
        if len(first_nine) != 9:
            raise ValueError(f"{prefix!r} and {n} do not make nine digits")
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            yield first_nine + str(check)
        n += 1


def nhs_test_number(start: int, *, prefix: str = "999") -> str:
    """The first valid test number at or after `start` (so neighbouring starts may share one)."""
    return next(nhs_test_numbers(start, prefix=prefix))


class NHSNumberField(forms.CharField):
    default_error_messages = {"required": "Enter the NHS number"}

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"})
        return attrs

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        return nhs_number_normalise(value)
