import pytest

from demo.mesh.sandbox import PASSWORD, Sandbox
from notifications.models import Channel, Delivery
from notifications.services import delivery_attempt
from suppliers.conformance import conformance_run_open
from suppliers.models import SupplierSystem, SystemKind
from tests.fhir.conftest import api  # noqa: F401  (real users' tokens, for the separation tests)
from tests.suppliers import mesh_la

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


@pytest.fixture(scope="session")
def la_sandbox(tmp_path_factory):
    sandbox = Sandbox(directory=tmp_path_factory.mktemp("la-conformance-mesh"), mailboxes=mesh_la.MAILBOXES)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def la_mesh(la_sandbox, settings):
    settings.MESH_URL = la_sandbox.url
    settings.MESH_MAILBOX_ID = mesh_la.SERVICE
    settings.MESH_PASSWORD = PASSWORD
    settings.MESH_SHARED_KEY = la_sandbox.shared_key
    settings.MESH_TIMEOUT = 5.0
    mesh_la.drain(la_sandbox)
    return la_sandbox


@pytest.fixture
def la_system(db):
    return SupplierSystem.objects.create(
        supplier="Borough Systems", product="CaseBook", version="9.1", kind=SystemKind.LA_CASE_MANAGEMENT,
        offers_mesh=True,
    )  # fmt: skip


def deliver_notifications(run) -> None:
    """What the Celery worker does on commit for the run's LA's MESH deliveries (a test's
    transaction never commits)."""
    for delivery in Delivery.objects.filter(notification__local_authority=run.local_authority, channel=Channel.MESH):
        delivery_attempt(delivery_id=delivery.pk)
