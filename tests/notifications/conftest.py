import pytest

from notifications.models import WebhookEndpoint
from tests.factories import OrganisationFactory, PlanFactory
from tests.notifications.webhook_receiver import WebhookReceiver

WEBHOOK_SECRET = "s3cret-for-tests-only-0123456789abcdef"


@pytest.fixture
def la(db):
    return OrganisationFactory(local_authority=True, name="Northshire County Council", ods_code="LA001")


@pytest.fixture
def setting(db):
    return OrganisationFactory(name="Northshire General ED", ods_code="RDE01")


@pytest.fixture
def plan(la):
    return PlanFactory(organisation=la, family_name="Quibbleworth", given_names="Tallulah")


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_endpoint(la, webhook_receiver):
    return WebhookEndpoint.objects.create(local_authority=la, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
