"""Every dashboard figure, for every role, is a link to a list that shows the same count."""

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Invitation, Organisation, Role, TrainingRecord
from attendances.services import child_check
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from tests.accounts.test_dashboards import _figures
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for, user_with_role
from tests.notifications.checks import inbox_notification
from tests.plans.helpers import csv_bytes, import_bytes, row

pytestmark = pytest.mark.django_db


def _rows(page: str, testid: str) -> int:
    table = re.search(rf'data-testid="{testid}".*?<tbody[^>]*>(.*?)</tbody>', page, re.S)
    return len(re.findall(r"<tr[ >]", table[1])) if table else 0


def listed(client, href: str) -> int:
    """How many things the list behind `href` shows, read the way a person reads that page."""
    path, _, fragment = href.partition("#")
    response = client.get(path, follow=True)
    assert response.status_code == 200, href
    page = response.content.decode()
    if fragment == "overdue":
        table = re.search(r'data-testid="overdue".*?</table>', page, re.S)
        return sum(int(n) for n in re.findall(r'<td class="nhsuk-table__cell">(\d+)</td>', table[0])) if table else 0
    if fragment == "invitations":
        return _rows(page, "invitations-table")
    for counted in ("list-count", "plan-count"):
        found = re.search(rf'data-testid="{counted}">\s*\D*?(\d+)', page)
        if found:
            return int(found[1])
    for table in ("inbox-table", "failed-deliveries", "rejected-rows"):
        if f'data-testid="{table}"' in page:
            return _rows(page, table)
    if 'data-testid="inbox-empty"' in page or 'data-testid="no-failures"' in page:
        return 0
    raise AssertionError(f"{href}: no list to count")


def each_figure_matches_its_list(client, *, at_least: int) -> dict:
    figures = _figures(client.get("/").content.decode())
    assert len(figures) >= at_least
    for label, (value, href) in figures.items():
        assert href, f"{label!r} is not a link"
        if not value.isdigit():
            continue  # a date (the last access review): its link opens the review, tested elsewhere
        assert listed(client, href) == int(value), f"{label!r}: figure {value}, list {listed(client, href)}"
    return figures


@pytest.fixture
def world(care_setting, local_authority, national):
    return {"care_setting": care_setting, "la": local_authority, "national": national}


def test_social_worker_figures_match_their_lists(client_for, world):
    la, setting = world["la"], world["care_setting"]
    worker = user_with_role(Role.SOCIAL_WORKER, la)
    inbox_notification(la, setting)
    inbox_notification(la, setting)
    late = inbox_notification(la, setting)
    Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    mine = inbox_notification(la, setting)
    Notification.objects.filter(pk=mine.pk).update(assigned_to=worker)
    done = inbox_notification(la, setting)
    Notification.objects.filter(pk=done.pk).update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=worker
    )
    figures = each_figure_matches_its_list(client_for(worker), at_least=4)
    assert figures["new notifications"][0] == "4"


def test_plan_manager_figures_match_their_lists(client_for, world):
    la = world["la"]
    manager = user_with_role(Role.PLAN_MANAGER, la)
    today = timezone.localdate()
    PlanFactory(organisation=la)
    PlanFactory(organisation=la, looked_after=True)
    PlanFactory(organisation=la, end_date=today + timedelta(days=10))
    PlanFactory(organisation=la, date_of_birth=today.replace(year=today.year - 18) + timedelta(days=5))
    import_bytes(la, csv_bytes([row(1), row(2, nhs_number="1234"), row(3, plan_type="XYZ")]))
    client = client_for(manager)
    figures = each_figure_matches_its_list(client, at_least=6)
    assert figures["rejected rows to fix in the last upload"][0] == "2"
    # The last upload and its result, as a link to its report.
    note = re.search(
        r'data-testid="panel-note"><a href="([^"]+)">Last upload plans.csv', client.get("/").content.decode()
    )
    assert note and note[1] == figures["rejected rows to fix in the last upload"][1]


def test_org_admin_figures_match_their_lists(client_for, world):
    setting = world["care_setting"]
    admin = user_with_role(Role.ORG_ADMIN, setting)
    user_with_role(Role.CLINICIAN, setting, enrolled=False)
    soon = user_with_role(Role.CLINICIAN, setting)
    TrainingRecord.objects.filter(user=soon).update(expires_on=timezone.localdate() + timedelta(days=5))
    gone = user_with_role(Role.CLINICIAN, setting, enrolled=False)
    gone.is_active = False
    gone.save()
    Invitation.objects.create(
        organisation=setting, email="new@example.nhs.uk", full_name="New Person", roles=[Role.CLINICIAN],
        token_hash="a" * 64, expires_at=timezone.now() + timedelta(days=3),
    )  # fmt: skip
    figures = each_figure_matches_its_list(client_for(admin), at_least=5)
    assert figures["active users"][0] == "3" and figures["without two-factor authentication"][0] == "1"


def test_national_admin_figures_match_their_lists(client_for, world):
    la, setting = world["la"], world["care_setting"]
    other_la = OrganisationFactory(local_authority=True)
    OrganisationFactory(is_active=False)
    for where in (la, la, other_la):
        late = inbox_notification(where, setting)
        Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    Delivery.objects.update_or_create(notification=late, channel="email", defaults={"status": DeliveryStatus.FAILED})
    national = user_with_role(Role.NATIONAL_ADMIN, world["national"])
    figures = each_figure_matches_its_list(client_for(national), at_least=5)
    assert figures["notifications overdue across all local authorities"][0] == "3"
    assert int(figures["active organisations"][0]) == Organisation.objects.filter(is_active=True).count()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.SAFEGUARDING_LEAD])
def test_checker_figures_match_their_lists(client_for, world, role):
    setting = world["care_setting"]
    checker = user_with_role(role, setting)
    plan = PlanFactory(organisation=world["la"], family_name="Onplan", given_names="Ava")
    token = uuid.uuid4()
    now = timezone.now()
    for nhs_number in (plan.nhs_number, plan.nhs_number, nhs_number_for(777)):
        # The same form sent twice (the first two) counts once.
        child_check(nhs_number=nhs_number, date_of_birth=None, arrived_at=now, user=checker, organisation=setting,
                    role=role, idempotency_key=token if nhs_number == plan.nhs_number else None)  # fmt: skip
    # Someone else's check, and a check at another setting, are not this person's day.
    child_check(nhs_number=plan.nhs_number, date_of_birth=None, arrived_at=now,
                user=user_with_role(Role.CLINICIAN, setting), organisation=setting, role=Role.CLINICIAN)  # fmt: skip
    figures = each_figure_matches_its_list(client_for(checker), at_least=2)
    assert figures["checks you made today"][0] == "2"
    assert figures["children on a plan you checked today"][0] == "1"
