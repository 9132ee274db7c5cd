"""A check costs a fixed number of queries, whatever the child's history length."""

import datetime as dt
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from attendances.services import child_check
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory
from tests.fhir.conftest import api  # noqa: F401 - the FHIR tests' fixture, used below

pytestmark = pytest.mark.django_db

# Inside a test the check's transaction is a savepoint: SAVEPOINT + RELEASE are 2 queries.
TRANSACTION = 2
# The hourly limit of checks per user: one count of the user's checks in the audit log.
RATE_LIMIT = 1
# Service, child on plans, notifying: plans, lock, this form's visit with the history, and one
# statement writing the visit, the notifications with their outbox rows for every LA, and the
# audit event. The lock is a statement of its own: under READ COMMITTED the history read must
# start after the lock is granted to see the visit of a check that held it.
CHECK_QUERIES = TRANSACTION + RATE_LIMIT + 4
SILENT_QUERIES = TRANSACTION + RATE_LIMIT + 3  # plans, history, audit
NO_PLAN_QUERIES = TRANSACTION + RATE_LIMIT + 2  # plans, audit
# Through HTTP, once the session has been served: + the session with its user and their
# signed-in state's version, one query; the OTP device and the memberships (with whether
# training is current) are kept under that version (accounts/signed_in.py).
PAGE_OVERHEAD = 1


@pytest.fixture
def history(care_setting):
    def make(nhs_number, length):
        now = timezone.now()
        for h in range(length):
            VisitFactory(nhs_number=nhs_number, care_setting=care_setting, arrived_at=now - dt.timedelta(hours=h + 1))

    return make


@pytest.mark.parametrize("local_authorities", [1, 3])
@pytest.mark.parametrize("length", [0, 1, 24, 25, 40])
def test_check_query_count_is_fixed(
    role_user, care_setting, history, django_assert_num_queries, length, local_authorities
):
    user = role_user(Role.CLINICIAN)
    plan = PlanFactory()
    for _ in range(local_authorities - 1):
        PlanFactory(nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth)
    history(plan.nhs_number, length)

    with django_assert_num_queries(CHECK_QUERIES):
        result = child_check(
            nhs_number=plan.nhs_number,
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=user,
            organisation=care_setting,
            role=Role.CLINICIAN,
            idempotency_key=uuid.uuid4(),
        )
    assert len(result.previous_visits) == min(length, 25)
    assert len(result.notification_ids) == local_authorities


# A date of birth entered: + the verified one's read. When it differs, the notifications are
# flagged inside the one statement, not by a statement of their own.
VERIFIED_DOB_READ = 1


@pytest.mark.parametrize("differs", [False, True])
def test_a_date_of_birth_entered_costs_only_the_verified_read(
    role_user, care_setting, django_assert_num_queries, differs
):
    user = role_user(Role.CLINICIAN)
    plan = PlanFactory()
    entered = plan.date_of_birth - dt.timedelta(days=3) if differs else plan.date_of_birth

    with django_assert_num_queries(CHECK_QUERIES + VERIFIED_DOB_READ):
        result = child_check(
            nhs_number=plan.nhs_number,
            date_of_birth=entered,
            arrived_at=timezone.now(),
            user=user,
            organisation=care_setting,
            role=Role.CLINICIAN,
            idempotency_key=uuid.uuid4(),
        )
    assert result.dob_mismatch is differs
    assert Notification.objects.get().date_of_birth_entered == (entered if differs else None)


@pytest.mark.parametrize("length", [0, 25, 40])
def test_silent_read_query_count_is_fixed(role_user, care_setting, history, django_assert_num_queries, length):
    user = role_user(Role.SAFEGUARDING_LEAD)
    plan = PlanFactory()
    history(plan.nhs_number, length)

    with django_assert_num_queries(SILENT_QUERIES):
        child_check(
            nhs_number=plan.nhs_number,
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=user,
            organisation=care_setting,
            role=Role.SAFEGUARDING_LEAD,
            notify=False,
        )


def test_no_plan_check_query_count(role_user, care_setting, django_assert_num_queries):
    user = role_user(Role.CLINICIAN)
    with django_assert_num_queries(NO_PLAN_QUERIES):
        child_check(
            nhs_number="9434765919",
            date_of_birth=None,
            arrived_at=timezone.now(),
            user=user,
            organisation=care_setting,
            role=Role.CLINICIAN,
        )


@pytest.mark.parametrize("length", [0, 25, 40])
def test_check_page_query_count_is_fixed(
    role_user, client_for, care_setting, history, django_assert_num_queries, length
):
    client = client_for(role_user(Role.CLINICIAN))
    plan = PlanFactory()
    history(plan.nhs_number, length)
    client.get(reverse("attendances:check"))  # settle the session's activity stamp

    with django_assert_num_queries(CHECK_QUERIES + PAGE_OVERHEAD):
        response = client.post(
            reverse("attendances:check"), {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}
        )
    assert response.status_code == 200


# Through the FHIR API, once the token has been used: + the token (with its owner, organisation
# and the owner's signed-in state's version); the owner's memberships (with whether training is
# current: the web's own read) and whether they hold a second factor are kept under the version.
FHIR_OVERHEAD = 1


@pytest.mark.parametrize("length", [0, 25, 40])
def test_fhir_care_team_query_count_is_fixed(api, history, django_assert_num_queries, length):  # noqa: F811
    call, _user = api("clinician")
    plan = PlanFactory()
    history(plan.nhs_number, length)
    assert call("CareTeam", plan.nhs_number).status_code == 200  # records "last used" (once a minute)

    with django_assert_num_queries(CHECK_QUERIES + FHIR_OVERHEAD):
        response = call("CareTeam", plan.nhs_number, TraceID=str(uuid.uuid4()))
    assert response.status_code == 200
    assert response.json()["total"] == 1
