"""Dates and NHS numbers are written one way on every page: the filters registered once."""

import datetime as dt

from django.template import engines

from core.formatting import date_format, datetime_format


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_a_day_and_a_moment_are_written_one_way_each_in_uk_time():
    summer_evening = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)  # 00:30 on 2 July in London
    assert date_format(dt.date(2026, 3, 5)) == "5 March 2026"
    assert date_format(summer_evening) == "2 July 2026"
    assert datetime_format(summer_evening) == "2 July 2026, 00:30"
    assert datetime_format(summer_evening, seconds=True) == "2 July 2026, 00:30:00"
    assert date_format(None) == datetime_format(None) == ""


def test_the_environment_registers_them_and_the_nhs_number_formatter_under_one_name():
    page = render(
        "{{ day | date_format }} / {{ moment | datetime_format }} / {{ nhs_number_format(number) }}",
        day=dt.date(2026, 12, 25),
        moment=dt.datetime(2026, 12, 25, 9, 5, tzinfo=dt.UTC),
        number="9434765919",
    )
    assert page == "25 December 2026 / 25 December 2026, 09:05 / 943 476 5919"
