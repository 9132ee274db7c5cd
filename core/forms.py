"""Form fields every app's forms share."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.datastructures import MultiValueDict

from core.dates import date_in_range


class DatePartsWidget(forms.MultiWidget):
    """Day, month and year boxes (the NHS.UK date input), named `<name>_day` and so on."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"day": forms.TextInput, "month": forms.TextInput, "year": forms.TextInput}, attrs)

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dt.date):
            return [value.day, value.month, value.year]
        return [None, None, None]

    def value_from_datadict(self, data: Mapping[str, Any], files: MultiValueDict[str, UploadedFile], name: str) -> Any:
        # A client posting one field ("15/03/2019" or "2019-03-15", as scripts and the earlier
        # single-box forms did) is read too; the pages always send the three boxes.
        if not any(f"{name}_{part}" in data for part in ("day", "month", "year")) and data.get(name):
            return _date_parts_from_text(str(data[name]))
        return super().value_from_datadict(data, files, name)


def _date_parts_from_text(text: str) -> list[str]:
    text = text.strip()
    for separator, order in (("/", (0, 1, 2)), ("-", (2, 1, 0))):
        parts = text.split(separator)
        if len(parts) == 3:
            return [parts[i].strip() for i in order]
    # Not a date at all: a day with no month or year makes the field say "enter a full date".
    return [text, "", ""]


class DatePartsField(forms.MultiValueField):
    widget = DatePartsWidget

    def __init__(self, *, required: bool = True, **kwargs: Any) -> None:
        error_messages = {
            "incomplete": "Enter a full date, with day, month and year",
            "invalid_date": "Enter a real date, like 27 3 2026",
            **kwargs.pop("error_messages", {}),
        }
        fields = (forms.CharField(), forms.CharField(), forms.CharField())
        super().__init__(fields, required=required, require_all_fields=False, error_messages=error_messages, **kwargs)

    def compress(self, data_list: list[Any]) -> dt.date | None:
        if not data_list or not any(data_list):
            return None
        day, month, year = (str(part or "").strip() for part in data_list)
        if not (day and month and year):
            raise ValidationError(self.error_messages["incomplete"])
        try:
            value = dt.date(int(year), int(month), int(day))
        except (ValueError, OverflowError) as error:
            raise ValidationError(self.error_messages["invalid_date"]) from error
        date_in_range(value)
        return value
