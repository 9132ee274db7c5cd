from fhir.services import api_token_issue
from tests.url_permissions import Expect


def _token_of(world, persona, own):
    # "own": the persona's own token (if the persona may hold one); "other": a colleague's.
    if own and persona in ("clinician", "safeguarding_lead"):
        owner = world.users[persona]
    else:
        owner = world.users["safeguarding_lead" if persona == "clinician" else "clinician"]
    token, _ = api_token_issue(user=owner, organisation=world.care_setting, name="EPR", valid_days=30)
    return {"token_id": token.pk}


EXPECTATIONS = [
    # Bearer-token API: the browser session plays no part, so every persona is "no token".
    Expect("fhir:metadata", anonymous=200, default=200),
    Expect("fhir:care_team_search", anonymous=401, default=401),
    Expect("fhir:audit_event_search", anonymous=401, default=401),
    Expect("fhir:patient_flag_search", anonymous=401, default=401),
    Expect("fhir:flag_search", anonymous=401, default=401),
    Expect(
        "fhir:resource_read",
        anonymous=401,
        default=401,
        kwargs=lambda w, p, own: {"resource": "CareTeam", "resource_id": "00000000-0000-0000-0000-000000000000"},
        other_default=401,
    ),
    Expect(
        "fhir:unknown_resource",
        anonymous=404,
        default=404,
        kwargs=lambda w, p, own: {"resource": "Patient"},
        other_default=404,
    ),
    Expect(
        "fhir:token_list",
        statuses={"clinician": 200, "safeguarding_lead": 200},
        default=403,
    ),
    Expect(
        "fhir:token_revoke",
        method="post",
        kwargs=_token_of,
        statuses={"clinician": 302, "safeguarding_lead": 302},
        default=404,
    ),
]
