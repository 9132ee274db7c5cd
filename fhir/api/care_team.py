"""CareTeam search: the check itself, as the web journey makes it, paged by signed links."""

import uuid

from django.core import signing
from django.utils.crypto import salted_hmac

from fhir import interactions as http
from fhir import representations as resources
from fhir.api.checks import check, idempotency_key, patient_nhs_number
from fhir.api.gate import ApiCall, fhir_search

# A CareTeam search's next and previous links carry the check they page through, so following
# them records no second visit: signed, for this token and child only, for an hour. The child is
# named by a keyed hash: a signed value is readable, and URLs end up in places logs reach.
_PAGE_SALT = "fhir.care-team-pages"
_PAGE_MAX_AGE = 60 * 60


def _page_child(nhs_number: str) -> str:
    return salted_hmac(_PAGE_SALT, nhs_number).hexdigest()[:20]


def _page_check_key(request, call: ApiCall, nhs_number: str) -> uuid.UUID | None:
    values = request.GET.getlist("check")
    if not values:
        return None
    try:
        key, token_id, number = signing.loads(values[0], salt=_PAGE_SALT, max_age=_PAGE_MAX_AGE)
        if len(values) != 1 or token_id != call.token.pk or number != _page_child(nhs_number):
            raise signing.BadSignature
        return uuid.UUID(key)
    except (signing.BadSignature, TypeError, ValueError):
        raise http.invalid_parameter(
            "The check parameter is not from this token's recent search of this child"
        ) from None


@fhir_search
def care_team_search(request, call: ApiCall) -> dict:
    """The check: with IsUnscheduledAccessEvent true, exactly the web journey's (audit, visit,
    notification); false, a silent read (audited only). Paged by `_count` and `_offset`."""
    search = http.search_read(
        request, "CareTeam", params=frozenset({"patient:identifier"}), private=frozenset({"check"})
    )
    nhs_number = patient_nhs_number(request)
    key = None
    if call.unscheduled:
        # A page link's own check; else the client's TraceID (a retry records no second visit).
        key = _page_check_key(request, call, nhs_number) or idempotency_key(request, call, nhs_number) or uuid.uuid4()
    result = check(request, call, nhs_number, silent=not call.unscheduled, idempotency_key=key)
    plans = result.plans
    extra = []
    if key is not None and len(plans) > search.count:
        extra = [("check", signing.dumps([str(key), call.token.pk, _page_child(nhs_number)], salt=_PAGE_SALT))]
    entries = [(resources.care_team(plan), "match") for plan in search.page(plans)]
    return resources.searchset(
        entries,
        base_url=call.base_url,
        total=len(plans),
        links=search.links(call.base_url, total=len(plans), extra=extra),
    )
