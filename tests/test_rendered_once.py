"""The header and footer, rendered once per set of parameters (cpis.jinja2.rendered_once)."""

from datetime import date

from django.template import engines
from jinja2 import ChainableUndefined
from markupsafe import Markup

from cpis.jinja2 import CSRF_SLOT, _params_key, rendered_once


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
