import pytest

from suppliers.conformance import conformance_run_open
from suppliers.models import SupplierSystem, SystemKind
from tests.fhir.conftest import api  # noqa: F401  (real users' tokens, for the separation tests)

NHS = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture
def system(db):
    return SupplierSystem.objects.create(
        supplier="Acme Health", product="Acme EPR", version="4.2", kind=SystemKind.CARE_SETTING_EPR, offers_fhir=True
    )


@pytest.fixture
def opened(system, role_user, settings):
    settings.CONFORMANCE_RETRY_AFTER_SECONDS = 1
    return conformance_run_open(system=system, by=role_user("national_admin"))


@pytest.fixture
def fhir_get(client):
    """fhir_get(token, resource, nhs_number=None, params=None, **headers) through the whole stack."""

    def get(token, resource, nhs_number=None, *, params=None, **headers):
        query = dict(params or {})
        if nhs_number is not None:
            query["patient:identifier"] = f"{NHS}|{nhs_number}"
        extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
        extra.setdefault("HTTP_ACCEPT", "application/fhir+json")
        return client.get(f"/fhir/R4/{resource}", query, HTTP_AUTHORIZATION=f"Bearer {token}", **extra)

    return get
