import os
import time

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from tests.factories import OrganisationFactory, user_with_role

# Playwright's sync API runs an event loop in the test thread; the ORM calls tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def signed_in(client: Client, user, *, verified: bool = True) -> Client:
    """Signs `user` in as the login journey would: password done and, if `verified`, 2FA used."""
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
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


@pytest.fixture(autouse=True)
def _redis_breakers_closed():
    """Each test starts trusting Redis again: a breaker opened by one test's outage
    (cpis/resilience.py) would otherwise skip the next test's publishes."""
    from cpis import resilience

    resilience.reset()
