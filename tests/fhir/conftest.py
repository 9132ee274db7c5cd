import pytest

from fhir.services import api_token_issue
from tests.fhir.responses import NHS


@pytest.fixture
def api(client, role_user, care_setting):
    """api(role) → (call, user): call(resource, nhs_number, **headers) with that user's token."""

    def make(role="clinician", **user_kwargs):
        user = role_user(role, care_setting, **user_kwargs)
        _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)

        def call(resource, nhs_number=None, *, params=None, token=raw, method="get", **headers):
            query = dict(params or {})
            if nhs_number is not None:
                query["patient:identifier"] = f"{NHS}|{nhs_number}"
            extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
            if token is not None:
                extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
            return getattr(client, method)(f"/fhir/R4/{resource}", query, **extra)

        return call, user

    return make
