"""The design system's macros, rendered once per set of parameters (cpis.jinja2.rendered_once),
and the list pages' row links (cpis.jinja2._url_each)."""

from datetime import date

import pytest
from django.template import engines
from django.urls import reverse
from jinja2 import ChainableUndefined
from markupsafe import Markup

from cpis import jinja2 as cpis_jinja2
from cpis.jinja2 import CSRF_SLOT, _params_key, _url_each, rendered_once


def _header():
    # The design system's own macro, as base.jinja imports it.
    return engines["jinja2"].env.get_template("nhsuk/components/header/macro.jinja").module.header


def _params(html):
    return {"service": {"text": "CP-IS", "href": "/"}, "account": {"items": [{"action": "/logout/", "html": html}]}}


def test_each_page_gets_its_own_csrf_token_in_a_remembered_header():
    header = _header()
    first = rendered_once(header, _params(CSRF_SLOT + Markup("Log out")), csrf_input=Markup('<input value="one">'))
    second = rendered_once(header, _params(CSRF_SLOT + Markup("Log out")), csrf_input=Markup('<input value="two">'))
    assert '<input value="one">' in first and '<input value="two">' not in first
    assert '<input value="two">' in second and '<input value="one">' not in second
    assert str(CSRF_SLOT) not in first + second


def test_text_markup_and_missing_values_are_different_parameters():
    keys = {
        _params_key({"text": "<b>x</b>"}),
        _params_key({"text": Markup("<b>x</b>")}),
        _params_key({"text": ""}),
        _params_key({"text": ChainableUndefined()}),
        _params_key({"text": ["<b>x</b>"]}),
    }
    assert len(keys) == 5


def test_a_value_it_cannot_key_is_rendered_as_usual():
    macro = engines["jinja2"].env.from_string("{% macro m(params) %}{{ params.text }}{% endmacro %}").module.m
    assert rendered_once(macro, {"text": date(2026, 12, 1)}) == "2026-12-01"
    assert rendered_once(macro, {"text": date(2026, 12, 2)}) == "2026-12-02"


def test_macros_of_the_same_name_in_nameless_templates_are_never_mixed_up():
    env = engines["jinja2"].env
    one = env.from_string("{% macro m(params) %}one {{ params.text }}{% endmacro %}").module.m
    two = env.from_string("{% macro m(params) %}two {{ params.text }}{% endmacro %}").module.m
    assert rendered_once(one, {"text": "x"}) == "one x"
    assert rendered_once(two, {"text": "x"}) == "two x"


def test_the_same_macro_with_other_parameters_renders_them_not_the_remembered_ones():
    tag = engines["jinja2"].env.get_template("nhsuk/components/tag/macro.jinja").module.tag
    new = rendered_once(tag, {"text": "New", "classes": "nhsuk-tag--blue"})
    overdue = rendered_once(tag, {"text": "Overdue", "classes": "nhsuk-tag--red"})
    assert "New" in new and "nhsuk-tag--blue" in new and "Overdue" not in new
    assert "Overdue" in overdue and "nhsuk-tag--red" in overdue and "New" not in overdue
    assert (
        rendered_once(tag, {"text": "New", "classes": "nhsuk-tag--blue"})
        == new
        == str(tag({"text": "New", "classes": "nhsuk-tag--blue"}))
    )


def test_a_selected_option_is_a_different_parameter_from_an_unselected_one():
    select = engines["jinja2"].env.get_template("nhsuk/components/select/macro.jinja").module.select

    def params(selected: bool) -> dict:
        return {
            "id": "s",
            "name": "s",
            "label": {"text": "S"},
            "items": [{"value": "a", "text": "A", "selected": selected}],
        }

    chosen, unchosen = rendered_once(select, params(True)), rendered_once(select, params(False))
    assert "selected" in chosen and "selected" not in unchosen
    assert rendered_once(select, params(True)) == chosen


@pytest.mark.parametrize("pk", [1, 7, 42, 918273645, 123456789012])
def test_row_links_are_the_links_reverse_gives(pk):
    assert _url_each("plans:detail", "plan_id")(pk) == reverse("plans:detail", kwargs={"plan_id": pk})
    assert _url_each("notifications:notification_detail", "notification_id")(pk) == reverse(
        "notifications:notification_detail", kwargs={"notification_id": pk}
    )


def test_an_id_that_is_not_an_int_is_reversed_as_usual():
    assert _url_each("plans:detail", "plan_id")("007") == reverse("plans:detail", kwargs={"plan_id": "007"})


def test_a_route_that_is_not_an_integer_is_reversed_row_by_row():
    assert _url_each("guidance:page", "slug")("help") == reverse("guidance:page", kwargs={"slug": "help"})


def test_nothing_typed_is_remembered_but_empty_fields_are():
    """What someone types may be a child's name, NHS number or date of birth: the form's macros
    render it as usual instead of keeping it in the process."""
    from django import forms

    from core.forms import DatePartsField

    class Form(forms.Form):
        q = forms.CharField(label="Name")
        day = DatePartsField(label="Day")

    forms_module = engines["jinja2"].env.get_template("includes/forms.jinja").module
    typed = Form({"q": "Zebedee Quibble", "day_day": "Zebedee", "day_month": "Ozzy", "day_year": "2026"})
    dated = Form({"q": "", "day_day": "31", "day_month": "12", "day_year": "2026"})

    assert 'value="Zebedee Quibble"' in str(forms_module.text_field(typed["q"]))
    assert 'value="Zebedee"' in str(forms_module.date_field(typed["day"]))
    assert 'value="31"' in str(forms_module.date_field(dated["day"]))
    empty = Form({"q": "", "day_day": "", "day_month": "", "day_year": ""})
    assert 'name="day_day"' in str(forms_module.date_field(empty["day"]))
    remembered = "".join(cpis_jinja2._rendered.values())
    assert "Zebedee" not in remembered and "Ozzy" not in remembered
    assert 'value="31"' not in remembered and 'value="2026"' not in remembered
    assert 'name="day_day"' in remembered
