"""Implementation progress: go-live derived from data; the public page holds no personal data."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Organisation, Region, Role
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
    Organisation.objects.filter(pk=la.pk).update(region=Region.NORTH_WEST)
    Organisation.objects.filter(pk=care_setting.pk).update(region=Region.NORTH_WEST)
    OrganisationFactory(local_authority=True, region=Region.LONDON)
    user_with_role(Role.CLINICIAN, care_setting)
    clinician = user_with_role(Role.CLINICIAN, care_setting)
    plan = PlanFactory(organisation=la, family_name="Zanzibarova", given_names="Quentin")

    response = Client().get("/reports/implementation-progress/")

    page = response.content.decode()
    main = re.search(r"<main.*</main>", page, re.S)[0]
    assert response.status_code == 200
    assert re.search(r"Local authority</th>\s*<td[^>]*>1</td>\s*<td[^>]*>2</td>", main)
    assert re.search(r"Emergency department</th>\s*<td[^>]*>0</td>", main)
    assert _region_row(main, "North West") == ["1", "1", "0", "1"]
    assert _region_row(main, "London") == ["0", "1", "0", "0"]
    assert "South West" not in main
    # No names of people or organisations, no NHS numbers, no e-mail addresses.
    private = (plan.family_name, plan.given_names, plan.nhs_number, la.name, care_setting.name, la.ods_code,
               care_setting.ods_code, clinician.full_name, clinician.email, "team@council.example")  # fmt: skip
    for value in private:
        assert value not in page
    assert not re.search(r"\b\d{10}\b|\b\d{3} \d{3} \d{4}\b|@", main)


def _region_row(main: str, region: str) -> list[str]:
    """The four figures of one region's row of the public page (LAs live, LAs, settings live, settings)."""
    row = re.search(rf"{region}</th>(.*?)</tr>", main, re.S)[1]
    return re.findall(r"</span>(\d+)</td>", row)


def test_national_admin_filters_the_list_by_region_and_state(client_for, national, care_setting):
    live = _live_la()
    Organisation.objects.filter(pk=live.pk).update(region=Region.LONDON)
    waiting = OrganisationFactory(local_authority=True, region=Region.LONDON)
    Organisation.objects.filter(pk=care_setting.pk).update(region=Region.SOUTH_EAST)
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    url = "/reports/implementation-progress/organisations/"

    everyone = client.get(url).content.decode()
    assert "London" in everyone and "South East" in everyone and "3 organisations." in everyone
    london = client.get(url, {"region": "london"}).content.decode()
    assert live.name in london and waiting.name in london and care_setting.name not in london
    live_only = client.get(url, {"region": "london", "state": "live"}).content.decode()
    assert live.name in live_only and waiting.name not in live_only and "1 organisation live." in live_only
    not_live = client.get(url, {"state": "not_live"}).content.decode()
    assert live.name not in not_live and waiting.name in not_live and care_setting.name in not_live
    odd = client.get(url, {"region": "'; drop", "state": "<x>"})
    assert odd.status_code == 200 and "3 organisations." in odd.content.decode()


def test_national_admin_sees_each_organisation_and_org_admin_their_checklist(client_for, national, care_setting):
    la = _live_la()
    listing = client_for(user_with_role(Role.NATIONAL_ADMIN, national)).get(
        "/reports/implementation-progress/organisations/"
    )
    assert la.name in listing.content.decode() and care_setting.name in listing.content.decode()
    checklist = client_for(user_with_role(Role.ORG_ADMIN, care_setting)).get("/reports/go-live/").content.decode()
    assert "2 of 2 steps left before you are live." in checklist
    assert "Children checked in the last 30 days" in checklist
