"""AuditEvent search: the child's access history, each visit with its PractitionerRole."""

from fhir import interactions as http
from fhir import representations as resources
from fhir.api.checks import patient_nhs_number
from fhir.api.gate import ApiCall, fhir_search
from fhir.api.history import history_read


@fhir_search
def audit_event_search(request, call: ApiCall) -> dict:
    """The child's access history: at most 25 visits, newest first, only while a plan is visible,
    each followed by its PractitionerRole (`search.mode: include`).

    The PractitionerRoles come with or without `_include`: NHS England's example answers the
    plain search with them, and its data mapping reads who viewed (name, role, organisation)
    from them, so an EPR written to the guide asks for none and still needs them.

    A read of the history, audited; it records no visit itself (a consumer calls CareTeam for
    the check and AuditEvent for the history; counting both would record each attendance twice).
    """
    search = http.search_read(
        request,
        "AuditEvent",
        params=frozenset({"patient:identifier"}),
        includes=http.PRACTITIONER_ROLE_INCLUDES,
    )
    nhs_number = patient_nhs_number(request)
    visits = history_read(request, call, nhs_number)
    page = search.page(visits)
    entries = [(resources.audit_event(v), "match") for v in page]
    entries += [(resources.practitioner_role(v), "include") for v in page]
    return resources.searchset(
        entries, base_url=call.base_url, total=len(visits), links=search.links(call.base_url, total=len(visits))
    )
