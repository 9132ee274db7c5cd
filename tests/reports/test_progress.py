"""Implementation progress: go-live derived from data; the public page holds no personal data."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from plans.models import PlanUpload, UploadStatus
from reports.progress import go_live_states
from tests.factories import OrganisationFactory, PlanFactory, user_with_role

pytestmark = pytest.mark.django_db


def _live_la():
    la = OrganisationFactory(local_authority=True, team_mailbox="team@council.example")
    user_with_role(Role.SOCIAL_WORKER, la)
    PlanUpload.objects.create(organisation=la, filename="a.csv", status=UploadStatus.APPLIED,
                              applied_at=timezone.now(), counts={"rows": 100, "accepted": 96})  # fmt: skip
    return la


def test_a_local_authority_is_live_only_with_contacts_training_and_a_good_recent_upload():
    la = _live_la()
    assert go_live_states([la])[0].live

    low = OrganisationFactory(local_authority=True, team_mailbox="t@c.example")
    user_with_role(Role.SOCIAL_WORKER, low)
    PlanUpload.objects.create(organisation=low, filename="a.csv", status=UploadStatus.APPLIED,
                              applied_at=timezone.now(), counts={"rows": 100, "accepted": 94})  # fmt: skip
    untrained = OrganisationFactory(local_authority=True, team_mailbox="t@c.example")
    user_with_role(Role.SOCIAL_WORKER, untrained, trained=False)
    stale = _live_la()
    PlanUpload.objects.filter(organisation=stale).update(applied_at=timezone.now() - timedelta(days=31))

    states = {s.organisation: s for s in go_live_states([low, untrained, stale])}
    assert [s.text[:20] for s in states[low].left] == ["Plans uploaded in th"]
    assert any("trained social worker" in s.text for s in states[untrained].left)
    assert not states[stale].live


def test_a_care_setting_is_live_with_a_trained_clinician_and_recent_checks(care_setting):
    user_with_role(Role.CLINICIAN, care_setting)
    assert not go_live_states([care_setting])[0].live
    AuditEvent.objects.create(action=AuditAction.CHILD_CHECKED, organisation=care_setting, detail={"plan_ids": []})
    assert go_live_states([care_setting])[0].live


def test_the_public_page_needs_no_sign_in_and_shows_counts_only(care_setting):
    la = _live_la()
    user_with_role(Role.CLINICIAN, care_setting)
    plan = PlanFactory(organisation=la, family_name="Zanzibarova", given_names="Quentin")

    response = Client().get("/reports/implementation-progress/")

    page = response.content.decode()
    main = re.search(r"<main.*</main>", page, re.S)[0]
    assert response.status_code == 200
    assert re.search(r"Local authority</th>\s*<td[^>]*>1</td>", main)
    assert re.search(r"Emergency department</th>\s*<td[^>]*>0</td>", main)
    # No names of people or organisations, no NHS numbers, no e-mail addresses.
    for private in (plan.family_name, plan.nhs_number, la.name, care_setting.name, "team@council.example"):
        assert private not in page
    assert not re.search(r"\b\d{10}\b|\b\d{3} \d{3} \d{4}\b|@", main)


def test_national_admin_sees_each_organisation_and_org_admin_their_checklist(client_for, national, care_setting):
    la = _live_la()
    listing = client_for(user_with_role(Role.NATIONAL_ADMIN, national)).get(
        "/reports/implementation-progress/organisations/"
    )
    assert la.name in listing.content.decode() and care_setting.name in listing.content.decode()
    checklist = client_for(user_with_role(Role.ORG_ADMIN, care_setting)).get("/reports/go-live/").content.decode()
    assert "2 of 2 steps left before you are live." in checklist
    assert "Children checked in the last 30 days" in checklist
