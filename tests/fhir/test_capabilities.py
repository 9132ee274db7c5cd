"""The CapabilityStatement says what the API serves, and nothing it does not."""

import json
import re
import uuid

import pytest
from django.urls import resolve
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from fhir import urls
from fhir.interactions import PRACTITIONER_ROLE_INCLUDES
from tests.fhir.responses import parsed

pytestmark = pytest.mark.django_db


def served() -> dict[str, set[str]]:
    """Resource type → interactions, read from the URL patterns themselves."""
    interactions: dict[str, set[str]] = {}
    for pattern in urls.urlpatterns:
        if pattern.name == "resource_read":
            types = re.search(r"\(\?P<resource>([^)]*)\)", pattern.pattern.regex.pattern).group(1).split("|")
            for name in types:
                interactions.setdefault(name, set()).add("read")
        elif pattern.name.endswith("_search") and pattern.name != "patient_flag_search":
            interactions.setdefault(str(pattern.pattern).removeprefix("R4/"), set()).add("search-type")
    return interactions


def test_statement_lists_every_interaction_served_and_no_other(client):
    statement = parsed(client.get("/fhir/R4/metadata"), CapabilityStatement)
    declared = {r.type: {i.code for i in r.interaction} for r in statement.rest[0].resource}
    assert declared == served()
    for name, interactions in declared.items():
        if "read" in interactions:
            assert resolve(f"/fhir/R4/{name}/{uuid.uuid4()}").url_name == "resource_read"
        if "search-type" in interactions:
            assert resolve(f"/fhir/R4/{name}").url_name.endswith("_search")


def test_statement_lists_the_includes_the_search_accepts(client):
    body = json.loads(client.get("/fhir/R4/metadata").content)
    audit_event = next(r for r in body["rest"][0]["resource"] if r["type"] == "AuditEvent")
    assert set(audit_event["searchInclude"]) == PRACTITIONER_ROLE_INCLUDES
    # The national statement's own value, and R4's, among them.
    assert {"PractitionerRole", "AuditEvent:agent"} <= set(audit_event["searchInclude"])
    assert body["format"] == ["application/fhir+json", "json"]
    assert body["url"] == "http://testserver/fhir/R4/metadata"
