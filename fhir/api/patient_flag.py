"""NHS England's Patient Flag API (`PatientFlag`, `Flag`): a view without notifying."""

from fhir import interactions as http
from fhir import representations as resources
from fhir.api.checks import check, nhs_number_parameter
from fhir.api.gate import ApiCall, fhir_search
from fhir.api.outcomes import invalid_search


def _flag_nhs_number(request) -> str:
    values = request.GET.getlist("patient")
    if len(values) != 1:
        raise invalid_search("Exactly one patient parameter (the NHS number) is required")
    value = values[0]
    system, bar, number = value.partition("|")
    if bar:
        if system != resources.NHS_NUMBER_SYSTEM:
            raise invalid_search(f"patient must be an NHS number or {resources.NHS_NUMBER_SYSTEM}|<NHS number>")
        value = number
    return nhs_number_parameter(value)


def _asks_for_cpis_flag(request) -> bool:
    codes = [code for value in request.GET.getlist("code") for code in value.split(",")]
    if not codes:
        return True
    cpis = {resources.CPIS_FLAG_CODE, f"{resources.FLAG_CATEGORY_SYSTEM}|{resources.CPIS_FLAG_CODE}"}
    return any(code.strip() in cpis for code in codes)


@fhir_search(silent_only=True)
def patient_flag_search(request, call: ApiCall) -> dict:
    """NHS England's Patient Flag API for scheduled care: per visible plan a Flag (match) with
    its CarePlan and the local authority's CareTeam (include). A view without notifying by
    definition: audited, no visit, no notification."""
    path = request.path.rsplit("/", 1)[-1]
    search = http.search_read(request, path, params=frozenset({"patient", "code"}))
    nhs_number = _flag_nhs_number(request)
    # We hold CP-IS flags only: asked for other flags, there is nothing to read, so nothing is.
    plans = check(request, call, nhs_number, silent=True).plans if _asks_for_cpis_flag(request) else []
    entries = []
    for plan in search.page(plans):
        entries += [
            (resources.flag(plan), "match"),
            (resources.care_plan(plan), "include"),
            (resources.flag_care_team(plan), "include"),
        ]
    return resources.searchset(
        entries, base_url=call.base_url, total=len(plans), links=search.links(call.base_url, total=len(plans))
    )
