"""The redaction every log handler applies (cpis/logs.py)."""

import logging
import re
import sys

import pytest

from cpis.logs import RedactFilter, redact, request_id_new


def test_query_strings_and_nhs_numbers_are_removed():
    assert redact("GET /fhir/R4/CareTeam?patient:identifier=x|9434765919 HTTP/1.1") == (
        "GET /fhir/R4/CareTeam?[query removed] HTTP/1.1"
    )
    assert (
        redact("Key (nhs_number)=(943 476 5919) already exists") == "Key (nhs_number)=([number removed]) already exists"
    )
    # Ids, timings and longer numbers are kept.
    assert redact("delivery 12345 took 0.25 s; 12345678901") == "delivery 12345 took 0.25 s; 12345678901"


@pytest.mark.parametrize(
    "text",
    [
        "nhs_number=9434765919",
        "Key (nhs_number)=(943 476 5919) already exists",
        "943-476-5919",
        "row for 9434765919.",
        "x|9434765919",
        "/patients/9434765919/",
        "plan_9434765919_upload",
        "9434765919,9434765920",
    ],
)
def test_nhs_numbers_standing_as_numbers_are_redacted(text):
    assert not re.search(r"\d{3}[ -]?\d{3}[ -]?\d{4}", redact(text)), redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "request_id=0f3a9434765919c2d41b7e6a8f0c3d21",
        "9434765919abc",
        "abc943 476 5919",
        "took 0.9434765919 s",
        "9434765919.25",
        "12345678901",
    ],
)
def test_digits_inside_an_id_or_a_longer_number_are_kept(text):
    assert redact(text) == text


def test_no_generated_request_id_is_redacted():
    # A million ids, one per line, redacted at once: a line break bounds an NHS number as a
    # space would, so this is each id redacted on its own, without a million calls.
    ids = [request_id_new() for _ in range(1_000_000)]
    joined = "\n".join(ids)
    # Ten digits in a row inside an id are common enough to have broken ids before (3.6%).
    assert len(re.findall(r"\d{10}", joined)) > 10_000
    assert redact(joined) == joined


def test_the_filter_redacts_arguments_and_tracebacks():
    try:
        raise ValueError("row for 9434765919")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed at %s", ("/p?nhs=1",), exc_info=True)
        record.exc_info = sys.exc_info()
    RedactFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "9434765919" not in text and "nhs=1" not in text
    assert "failed at /p?[query removed]" in text and "ValueError: row for [number removed]" in text


def test_a_slow_small_response_keeps_its_status_in_the_access_log():
    from cpis import gunicorn

    atoms = {"h": "127.0.0.1", "t": "[01/Dec/2026:18:28:03 +0000]", "m": "GET", "U": "/fhir/R4/CareTeam"}
    atoms |= {"H": "HTTP/1.1", "s": "401", "B": "123", "M": "4567"}
    atoms |= {"{cpis.client_ip}e": "10.0.0.1", "{cpis.request_id}e": "abc"}
    line = redact(gunicorn.access_log_format % atoms)
    assert '"GET /fhir/R4/CareTeam HTTP/1.1" 401 123 bytes 4567ms' in line
