"""A clinician's or safeguarding lead's own checks of today, listed behind the home page figure."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.access import SESSION_ORGANISATION_KEY
from accounts.models import Membership, Role
from attendances.services import child_check
from audit.models import AuditAction, AuditEvent
from core.nhs_numbers import nhs_number_format
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for, user_with_role

pytestmark = pytest.mark.django_db

URL = "/check/today/"


def check(user, organisation, nhs_number, *, role=Role.CLINICIAN, notify=True, date_of_birth=None):
    return child_check(nhs_number=nhs_number, date_of_birth=date_of_birth, arrived_at=timezone.now(), user=user,
                       organisation=organisation, role=role, notify=notify)  # fmt: skip


def test_list_shows_each_check_with_name_formatted_nhs_number_time_and_result(client_for, care_setting,
                                                                             local_authority):  # fmt: skip
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    plan = PlanFactory(organisation=local_authority, family_name="Okonkwo", given_names="Ada")
    no_plan = nhs_number_for(4242)
    check(clinician, care_setting, plan.nhs_number, date_of_birth=plan.date_of_birth - timedelta(days=1))
    check(clinician, care_setting, no_plan)

    page = client_for(clinician).get(URL).content.decode()

    assert "2 checks." in page
    assert "Ada Okonkwo" in page and nhs_number_format(plan.nhs_number) in page
    assert nhs_number_format(no_plan) in page and "No plan" in page
    assert "Child Protection Plan" in page and "Visit recorded, local authority told" in page
    assert "Date of birth did not match" in page
    assert f"{timezone.localtime():%H}:" in page
    # Newest first: the check of the child with no plan was made last.
    assert page.index(nhs_number_format(no_plan)) < page.index(nhs_number_format(plan.nhs_number))
    on_plan = client_for(clinician).get(URL, {"result": "plan"}).content.decode()
    assert "1 check of a child on a plan." in on_plan and nhs_number_format(no_plan) not in on_plan


def test_list_holds_only_my_checks_here_and_today(client_for, care_setting, local_authority):
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    elsewhere = OrganisationFactory(setting_type="MIU")
    Membership.objects.create(user=clinician, organisation=elsewhere, role=Role.CLINICIAN)
    colleague = user_with_role(Role.CLINICIAN, care_setting)
    mine, theirs, there, yesterday = (nhs_number_for(n) for n in (11, 12, 13, 14))
    with time_machine.travel(timezone.now() - timedelta(days=1)):
        check(clinician, care_setting, yesterday)
    check(clinician, care_setting, mine)
    check(colleague, care_setting, theirs)
    check(clinician, elsewhere, there)

    client = client_for(clinician)
    session = client.session
    session[SESSION_ORGANISATION_KEY] = care_setting.pk
    session.save()
    page = client.get(URL).content.decode()

    assert nhs_number_format(mine) in page and "1 check." in page
    for other in (theirs, there, yesterday):
        assert nhs_number_format(other) not in page


def test_a_silent_read_is_listed_as_one(client_for, care_setting, local_authority):
    lead = user_with_role(Role.SAFEGUARDING_LEAD, care_setting)
    plan = PlanFactory(organisation=local_authority)
    check(lead, care_setting, plan.nhs_number, role=Role.SAFEGUARDING_LEAD, notify=False)
    page = client_for(lead).get(URL).content.decode()
    assert "Viewed without notifying" in page and "1 check." in page


def test_a_plan_no_longer_shared_is_not_named_again(client_for, care_setting, local_authority):
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    plan = PlanFactory(organisation=local_authority, family_name="Withdrawnname")
    check(clinician, care_setting, plan.nhs_number)
    type(plan).objects.filter(pk=plan.pk).update(withdrawn=True)
    page = client_for(clinician).get(URL).content.decode()
    assert "Withdrawnname" not in page and "No longer shared" in page


def test_listing_is_audited_without_child_identifiers(client_for, care_setting):
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    check(clinician, care_setting, nhs_number_for(21))
    client_for(clinician).get(URL)
    event = AuditEvent.objects.get(action=AuditAction.CHILD_CHECKS_LISTED)
    assert event.user == clinician and event.organisation == care_setting and event.nhs_number == ""
    assert event.detail == {"checks": 1, "on_plan_only": False}


def test_untrained_clinician_is_stopped_at_the_gate(client_for, care_setting):
    response = client_for(user_with_role(Role.CLINICIAN, care_setting, trained=False)).get(URL)
    assert response.status_code == 403 and "training" in response.content.decode()


def test_list_queries_do_not_grow_with_checks(client_for, care_setting, local_authority, django_assert_max_num_queries):
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    client = client_for(clinician)
    check(clinician, care_setting, PlanFactory(organisation=local_authority).nhs_number)
    with django_assert_max_num_queries(30) as baseline:
        client.get(URL)
    for n in range(6):
        check(clinician, care_setting, PlanFactory(organisation=local_authority).nhs_number)
        check(clinician, care_setting, nhs_number_for(900 + n))
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        assert "13 checks." in client.get(URL).content.decode()
