import ipaddress
import os
import time
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from tests.factories import OrganisationFactory, user_with_role
from tests.tls import local_certificates

# Playwright's sync API runs an event loop in the test thread; the ORM calls tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def signed_in(client: Client, user, *, verified: bool = True) -> Client:
    """Signs `user` in as the login journey would: password done and, if `verified`, 2FA used."""
    client.force_login(user, backend="accounts.backends.SessionUserBackend")
    session = client.session
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if verified and device is not None:
        session["otp_device_id"] = device.persistent_id
    now = int(time.time())
    session["login_time"] = now
    session["last_activity"] = now
    session.save()
    return client


@pytest.fixture
def care_setting(db):
    return OrganisationFactory(name="Northshire General ED", ods_code="RDE01")


@pytest.fixture
def other_care_setting(db):
    return OrganisationFactory(name="Faraway Minor Injury Unit", ods_code="RFW01", setting_type="MIU")


@pytest.fixture
def local_authority(db):
    return OrganisationFactory(local_authority=True, name="Northshire County Council", ods_code="LA001")


@pytest.fixture
def other_local_authority(db):
    return OrganisationFactory(local_authority=True, name="Southborough City Council", ods_code="LA002")


@pytest.fixture
def national(db):
    return OrganisationFactory(national=True, ods_code="X26")


@pytest.fixture
def role_user(db, care_setting, local_authority, national):
    """role_user(role) → a trained, enrolled user with that role at the usual organisation."""
    home = {
        Role.CLINICIAN: care_setting,
        Role.SAFEGUARDING_LEAD: care_setting,
        Role.SOCIAL_WORKER: local_authority,
        Role.PLAN_MANAGER: local_authority,
        Role.ORG_ADMIN: care_setting,
        Role.NATIONAL_ADMIN: national,
        Role.PRIVACY_OFFICER: care_setting,
    }

    def make(role: str, organisation=None, **kwargs):
        return user_with_role(role, organisation or home[role], **kwargs)

    return make


@pytest.fixture
def client_for(db):
    """client_for(user) → a test client signed in as that user with 2FA used."""

    def make(user, **kwargs):
        return signed_in(Client(), user, **kwargs)

    return make


@pytest.fixture(autouse=True, scope="session")
def _outbound_trusts_the_tests_certificates():
    """Outbound requests (core/outbound.py) trust the authority the tests' HTTPS servers use
    (tests/tls.py): in this process, and in the workers tests start, which read the environment."""
    from django.conf import settings

    bundle = str(local_certificates().ca_path)
    os.environ["OUTBOUND_CA_BUNDLE"] = settings.OUTBOUND_CA_BUNDLE = bundle


@dataclass
class OutboundNames:
    addresses: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)


@pytest.fixture
def outbound_names(monkeypatch) -> OutboundNames:
    """`outbound_names.addresses["cms.example.test"] = ["10.0.0.7"]`: what a name resolves to
    for outbound requests (core/outbound.py), standing in for the network's DNS; other names
    resolve as usual. `lookups` lists the names looked up."""
    from core import outbound

    names = OutboundNames()
    resolve = outbound.host_addresses

    def host_addresses(host, port):
        names.lookups.append(host)
        if host in names.addresses:
            return [ipaddress.ip_address(address) for address in names.addresses[host]]
        return resolve(host, port)

    monkeypatch.setattr(outbound, "host_addresses", host_addresses)
    return names


@pytest.fixture(autouse=True)
def _redis_breakers_closed():
    """Each test starts trusting Redis again: a breaker opened by one test's outage
    (cpis/resilience.py) would otherwise skip the next test's publishes."""
    from cpis import resilience

    resilience.reset()


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of the test's own (tests/notifications/worker.py), to stop or freeze."""
    from tests.notifications.worker import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()
