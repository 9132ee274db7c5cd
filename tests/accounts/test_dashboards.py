"""Home is a dashboard for the role: each figure counts the list its link opens."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccessReview, Role
from notifications.models import Notification, NotificationStatus
from tests.factories import PlanFactory, user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db


def _figures(html: str) -> dict[str, tuple[str, str | None]]:
    """label → (value, href) for every figure on the home page."""
    found = {}
    for card in re.findall(r'<p class="nhsuk-card__heading[^"]*">(.*?)</p>', html, re.S):
        href = re.search(r'href="([^"]+)"', card)
        value = re.search(r'<span class="cpis-figure">([^<]*)</span>', card)[1]
        label = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card.split("</span>", 1)[1])).strip()
        found[label] = (value, href[1].replace("&amp;", "&") if href else None)
    return found


def test_social_worker_sees_new_overdue_mine_and_acknowledged_today(client_for, local_authority, care_setting):
    worker = user_with_role(Role.SOCIAL_WORKER, local_authority)
    inbox_notification(local_authority, care_setting, family_name="Plainnew")
    overdue = inbox_notification(local_authority, care_setting, family_name="Latecase")
    Notification.objects.filter(pk=overdue.pk).update(overdue_since=timezone.now())
    mine = inbox_notification(local_authority, care_setting, family_name="Minecase")
    Notification.objects.filter(pk=mine.pk).update(assigned_to=worker)
    done = inbox_notification(local_authority, care_setting, family_name="Donecase")
    Notification.objects.filter(pk=done.pk).update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=worker
    )
    client = client_for(worker)

    figures = _figures(client.get("/").content.decode())

    assert figures["new notifications"][0] == "3"
    assert figures["overdue"][0] == "1"
    assert figures["assigned to you"][0] == "1"
    assert figures["acknowledged today"][0] == "1"
    assigned = client.get(figures["assigned to you"][1]).content.decode()
    assert "Minecase" in assigned and "Plainnew" not in assigned
    assert "Latecase" in client.get(figures["overdue"][1]).content.decode()
    assert "Donecase" in client.get(figures["acknowledged today"][1]).content.decode()


def test_plan_manager_figures_open_the_filtered_plan_list(client_for, local_authority):
    manager = user_with_role(Role.PLAN_MANAGER, local_authority)
    today = timezone.localdate()
    PlanFactory(organisation=local_authority, family_name="Opencpp")
    PlanFactory(organisation=local_authority, family_name="Openlac", looked_after=True)
    PlanFactory(organisation=local_authority, family_name="Endingsoon", end_date=today + timedelta(days=10))
    PlanFactory(organisation=local_authority, family_name="Nearlyadult",
                date_of_birth=today.replace(year=today.year - 18) + timedelta(days=5))  # fmt: skip
    client = client_for(manager)

    figures = _figures(client.get("/").content.decode())

    assert figures["open Child Protection Plans"][0] == "2"  # Opencpp and Nearlyadult
    assert figures["plans ending in the next 30 days"][0] == "1"
    assert figures["18th birthdays in the next 30 days"][0] == "1"
    # The figures link to the list's own search URLs (its type and status), as a bookmark would.
    listing = client.get(figures["Looked After Children"][1]).content.decode()
    assert "OPENLAC" in listing and "OPENCPP" not in listing
    ending = client.get(figures["plans ending in the next 30 days"][1]).content.decode()
    assert "ENDINGSOON" in ending and "OPENCPP" not in ending
    adult = client.get(figures["18th birthdays in the next 30 days"][1]).content.decode()
    assert "NEARLYADULT" in adult and "OPENCPP" not in adult
    assert "No plan file has been uploaded yet." in client.get("/").content.decode()


def test_plan_list_link_accepts_only_types_and_states(client_for, local_authority):
    client = client_for(user_with_role(Role.PLAN_MANAGER, local_authority))
    response = client.get("/plans/", {"status": "<script>", "plan_type": "XYZ"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and "<script>" not in page


def test_org_admin_sees_users_training_two_factor_and_invitations(client_for, care_setting):
    admin = user_with_role(Role.ORG_ADMIN, care_setting)
    user_with_role(Role.CLINICIAN, care_setting, enrolled=False)
    figures = _figures(client_for(admin).get("/").content.decode())
    assert figures["active users"] == ("2", "/admin/users/?show=active")
    assert figures["without two-factor authentication"][0] == "1"
    assert figures["invitations not yet accepted"][0] == "0"


def test_org_admin_sees_when_access_was_last_reviewed_and_when_it_is_overdue(client_for, care_setting):
    admin = user_with_role(Role.ORG_ADMIN, care_setting)
    client = client_for(admin)
    review = f"/admin/organisations/{care_setting.pk}/access-review/"

    page = client.get("/").content.decode()
    assert _figures(page)["access review recorded"] == ("Never", review)
    assert "Review who has access" in page

    client.post(f"{review}record/", {"note": ""})
    page = client.get("/").content.decode()
    today = timezone.localdate()
    assert _figures(page)["last access review"] == (f"{today:%-d %B %Y}", review)
    assert 'data-testid="figure-flag"' not in page

    AccessReview.objects.update(reviewed_at=timezone.now() - timedelta(days=91))
    page = client.get("/").content.decode()
    assert "More than 90 days ago" in page
    # Another organisation's review says nothing about this one.
    other = user_with_role(Role.ORG_ADMIN)
    assert _figures(client_for(other).get("/").content.decode())["access review recorded"][0] == "Never"


def test_national_admin_sees_service_health(client_for, national):
    figures = _figures(client_for(user_with_role(Role.NATIONAL_ADMIN, national)).get("/").content.decode())
    assert figures["notification deliveries failed"] == ("0", "/inbox/deliveries/failed/")


def test_clinician_home_is_the_check_form(client_for, care_setting):
    page = client_for(user_with_role(Role.CLINICIAN, care_setting)).get("/").content.decode()
    assert '<form method="post" action="/check/"' in page
    assert 'name="check_token"' in page and 'name="nhs_number"' in page
    assert _figures(page)["checks you made today"] == ("0", "/check/today/")


def test_safeguarding_lead_home_is_the_check_form_with_their_checks_today(client_for, care_setting):
    page = client_for(user_with_role(Role.SAFEGUARDING_LEAD, care_setting)).get("/").content.decode()
    assert '<form method="post" action="/check/"' in page
    assert _figures(page)["checks you made today"] == ("0", "/check/today/")
    assert '<a href="/check/today/">Your checks today</a>' in page


def test_untrained_clinician_gets_no_check_form_and_no_figures(client_for, care_setting):
    page = client_for(user_with_role(Role.CLINICIAN, care_setting, trained=False)).get("/").content.decode()
    assert 'action="/check/"' not in page and "cpis-figure" not in page
