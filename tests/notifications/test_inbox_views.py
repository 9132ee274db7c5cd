"""The LA inbox through HTTP: who sees what, filters, assign, acknowledge, audit, failures."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from notifications.models import Channel, Delivery, DeliveryStatus, NotificationStatus
from tests.factories import OrganisationFactory, user_with_role
from tests.notifications.checks import child_on_plan, inbox_notification, record_check

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

INBOX = reverse("notifications:inbox")


def _detail(notification) -> str:
    return reverse("notifications:notification_detail", kwargs={"notification_id": notification.pk})


@pytest.fixture
def social_worker(la):
    return user_with_role(Role.SOCIAL_WORKER, la)


@pytest.fixture
def sw_client(client_for, social_worker):
    return client_for(social_worker)


def test_inbox_lists_own_las_delivered_notifications_only(sw_client, la, setting):
    mine = inbox_notification(la, setting, family_name="Quibbleworth")
    inbox_notification(OrganisationFactory(local_authority=True), setting, family_name="Elsewhereton")
    # Checked but not yet delivered to the inbox by the worker: not shown yet.
    record_check(plans=[child_on_plan(la, family_name="Notyetdelivered")], care_setting=setting)

    response = sw_client.get(INBOX)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Quibbleworth" in body
    assert "Elsewhereton" not in body
    assert "Notyetdelivered" not in body
    # The NHS number and date of birth tell apart two children of the same name.
    nhs = mine.nhs_number
    assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" in body
    assert mine.date_of_birth.strftime("%-d %B %Y") in body
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_INBOX_VIEWED)
    assert event.detail["notification_ids"] == [mine.pk]


def test_another_las_notification_is_not_found(sw_client, setting):
    theirs = inbox_notification(OrganisationFactory(local_authority=True), setting)
    assert sw_client.get(_detail(theirs)).status_code == 404
    assert (
        sw_client.post(reverse("notifications:notification_acknowledge", args=[theirs.pk]), {"note": "x"}).status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == NotificationStatus.NEW


def test_clinician_cannot_open_the_inbox(client_for, role_user):
    assert client_for(role_user(Role.CLINICIAN)).get(INBOX).status_code == 403


def test_opening_a_notification_shows_its_content_and_is_audited(sw_client, social_worker, la, setting):
    notification = inbox_notification(la, setting, family_name="Quibbleworth", given_names="Tallulah")

    response = sw_client.get(_detail(notification))

    body = response.content.decode()
    nhs = notification.nhs_number
    assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" in body
    assert "Tallulah Quibbleworth" in body
    assert "Child Protection Plan" in body
    assert "Northshire General ED (RDE01)" in body
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_OPENED)
    assert (event.user, event.nhs_number, event.organisation) == (social_worker, nhs, la)
    assert event.detail == {"notification_id": notification.pk}


def test_acknowledge_with_a_note_keeps_who_and_when(sw_client, social_worker, la, setting):
    notification = inbox_notification(la, setting)
    url = reverse("notifications:notification_acknowledge", args=[notification.pk])

    response = sw_client.post(url, {"note": "  Phoned the ED; duty SW visiting.  "})

    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.ACKNOWLEDGED
    assert notification.acknowledged_by == social_worker
    assert timezone.now() - notification.acknowledged_at < timedelta(minutes=1)
    assert notification.acknowledgement_note == "Phoned the ED; duty SW visiting."
    assert (
        AuditEvent.objects.filter(
            action=AuditAction.NOTIFICATION_ACKNOWLEDGED, nhs_number=notification.nhs_number
        ).count()
        == 1
    )


def test_a_double_submitted_acknowledgement_changes_nothing_the_second_time(
    client_for, sw_client, social_worker, la, setting
):
    notification = inbox_notification(la, setting)
    url = reverse("notifications:notification_acknowledge", args=[notification.pk])
    sw_client.post(url, {"note": "First"})
    colleague = client_for(user_with_role(Role.SOCIAL_WORKER, la))

    response = colleague.post(url, {"note": "Second"})

    assert response.status_code == 302
    notification.refresh_from_db()
    assert (notification.acknowledged_by, notification.acknowledgement_note) == (social_worker, "First")
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_ACKNOWLEDGED).count() == 1


def test_acknowledging_without_a_note_shows_the_error(sw_client, la, setting):
    notification = inbox_notification(la, setting)
    response = sw_client.post(reverse("notifications:notification_acknowledge", args=[notification.pk]), {"note": " "})
    assert response.status_code == 400
    assert "Enter a note saying what has been done" in response.content.decode()
    assert "There is a problem" in response.content.decode()
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.NEW


def test_assign_to_me(sw_client, social_worker, la, setting):
    notification = inbox_notification(la, setting)
    sw_client.post(reverse("notifications:notification_assign", args=[notification.pk]))
    notification.refresh_from_db()
    assert notification.assigned_to == social_worker
    assert social_worker.full_name in sw_client.get(INBOX).content.decode()


def test_acknowledged_list_shows_acknowledged_ones(sw_client, la, setting):
    done = inbox_notification(la, setting, family_name="Donewithit")
    inbox_notification(la, setting, family_name="Stillnew")
    sw_client.post(reverse("notifications:notification_acknowledge", args=[done.pk]), {"note": "ok"})

    new_body = sw_client.get(INBOX).content.decode()
    acknowledged_body = sw_client.get(INBOX, {"status": "acknowledged"}).content.decode()

    assert "Stillnew" in new_body and "Donewithit" not in new_body
    assert "Donewithit" in acknowledged_body and "Stillnew" not in acknowledged_body


def test_filter_by_plan_type_matches_whole_codes(sw_client, la, setting):
    inbox_notification(la, setting, family_name="Kidwell")
    inbox_notification(la, setting, family_name="Motherwell", unborn=True)

    body = sw_client.get(INBOX, {"plan_type": "CPP"}).content.decode()

    assert "Kidwell" in body
    assert "Motherwell" not in body  # "CPP" is inside "UCPP"; the filter must not match it


def test_filter_by_care_setting_and_date(sw_client, la, setting):
    other_setting = OrganisationFactory(name="Riverside MIU", setting_type="MIU")
    inbox_notification(la, setting, family_name="Atgeneral", arrived_at=timezone.now() - timedelta(days=3))
    inbox_notification(la, other_setting, family_name="Atriverside")

    by_setting = sw_client.get(INBOX, {"setting": other_setting.pk}).content.decode()
    today = timezone.localdate().strftime("%d/%m/%Y")
    by_date = sw_client.get(INBOX, {"date_from": today, "date_to": today}).content.decode()

    assert "Atriverside" in by_setting and "Atgeneral" not in by_setting
    assert "Atriverside" in by_date and "Atgeneral" not in by_date


def test_an_impossible_date_filter_shows_the_error_summary(sw_client, la, setting):
    response = sw_client.get(INBOX, {"date_from": "31/02/2026"})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    # Nothing was searched, so the page must not say that nothing matched.
    assert "matching these filters" not in response.content.decode()
    assert "Correct the filters above" in response.content.decode()


def test_inbox_query_count_does_not_grow_with_the_list(sw_client, la, setting, django_assert_max_num_queries):
    inbox_notification(la, setting)
    with django_assert_max_num_queries(100) as few:
        sw_client.get(INBOX)
    for _ in range(10):
        inbox_notification(la, setting)
    with django_assert_max_num_queries(len(few.captured_queries)):
        sw_client.get(INBOX)


def test_the_notification_links_to_the_childs_view(sw_client, la, setting):
    notification = inbox_notification(la, setting)
    url = reverse("attendances:child_for_notification", kwargs={"notification_id": notification.pk})
    page = sw_client.get(_detail(notification))
    assert page.status_code == 200
    assert f'href="{url}"' in page.content.decode()


def test_failed_deliveries_are_shown_to_the_las_admins_and_national_admins_only(client_for, la, setting):
    # Names no Faker-made user could share, so their absence from the page means something.
    mine = inbox_notification(la, setting, family_name="Quibbleworth", given_names="Tallulah")
    other_la = OrganisationFactory(local_authority=True)
    theirs = inbox_notification(other_la, setting)
    Delivery.objects.filter(channel=Channel.EMAIL).update(status=DeliveryStatus.FAILED, last_error="SMTP refused")
    url = reverse("notifications:deliveries_failed")

    la_admin_page = client_for(user_with_role(Role.ORG_ADMIN, la)).get(url).content.decode()
    national_page = client_for(user_with_role(Role.NATIONAL_ADMIN)).get(url).content.decode()

    mine_delivery = Delivery.objects.get(notification=mine, channel=Channel.EMAIL).pk
    theirs_delivery = Delivery.objects.get(notification=theirs, channel=Channel.EMAIL).pk
    assert f"Try delivery {mine_delivery} again" in la_admin_page
    assert f"Try delivery {theirs_delivery} again" not in la_admin_page
    assert f"Try delivery {theirs_delivery} again" in national_page
    # Admin roles see no notification ids: they say which children are on a plan.
    assert "(notification " not in la_admin_page + national_page
    for child_data in ("Quibbleworth", "Tallulah", mine.nhs_number):  # admins never see child data
        assert child_data not in la_admin_page + national_page


def test_admin_retries_a_failed_delivery_and_it_is_delivered(
    client_for, la, setting, django_capture_on_commit_callbacks
):
    from django.core import mail

    notification = inbox_notification(la, setting)
    email = Delivery.objects.get(notification=notification, channel=Channel.EMAIL)
    Delivery.objects.filter(pk=email.pk).update(status=DeliveryStatus.FAILED, attempts=10, last_error="SMTP refused")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user_with_role(Role.ORG_ADMIN, la)).post(
            reverse("notifications:delivery_retry", args=[email.pk])
        )

    assert response.status_code == 302
    email.refresh_from_db()
    assert (email.status, email.attempts) == (DeliveryStatus.SENT, 1)
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_DELIVERY_RETRIED).count() == 1


def test_inbox_and_notification_show_the_same_times(sw_client, la, setting):
    first = timezone.now() - timedelta(hours=2)
    notification = inbox_notification(la, setting, arrived_at=first)
    plan = notification.local_authority.plans.get(nhs_number=notification.nhs_number)
    record_check(plans=[plan], care_setting=setting, arrived_at=first + timedelta(minutes=43))
    notification.refresh_from_db()
    assert notification.attendance_count == 2

    listing = sw_client.get(INBOX).content.decode()
    detail = sw_client.get(_detail(notification)).content.decode()

    first_text = timezone.localtime(notification.first_attended_at).strftime("%-d %B %Y, %H:%M")
    last_text = timezone.localtime(notification.last_attended_at).strftime("%-d %B %Y, %H:%M")
    for page in (listing, detail):
        assert first_text in page
        assert f"last at {last_text}" in page


def test_a_birth_date_mismatch_at_the_check_reaches_the_la(sw_client, la, setting):
    from attendances.services import child_check
    from notifications.models import Notification
    from notifications.services import delivery_attempt

    plan = child_on_plan(la)
    entered = plan.date_of_birth - timedelta(days=1)
    child_check(
        nhs_number=plan.nhs_number,
        date_of_birth=entered,
        arrived_at=timezone.now(),
        user=user_with_role(Role.CLINICIAN, setting),
        organisation=setting,
        role=Role.CLINICIAN,
    )
    notification = Notification.objects.get(nhs_number=plan.nhs_number)
    delivery_attempt(delivery_id=Delivery.objects.get(notification=notification, channel=Channel.INBOX).pk)

    assert notification.date_of_birth_entered == entered
    assert "Date of birth differs" in sw_client.get(INBOX).content.decode()
    detail = sw_client.get(_detail(notification)).content.decode()
    assert "The date of birth did not match" in detail
    assert entered.strftime("%-d %B %Y") in detail


def test_a_matching_birth_date_raises_no_flag(sw_client, la, setting):
    from attendances.services import child_check
    from notifications.models import Notification

    plan = child_on_plan(la)
    child_check(
        nhs_number=plan.nhs_number,
        date_of_birth=plan.date_of_birth,
        arrived_at=timezone.now(),
        user=user_with_role(Role.CLINICIAN, setting),
        organisation=setting,
        role=Role.CLINICIAN,
    )
    assert Notification.objects.get(nhs_number=plan.nhs_number).date_of_birth_entered is None


def test_assign_to_a_colleague_in_the_same_la(sw_client, la, setting):
    colleague = user_with_role(Role.SOCIAL_WORKER, la)
    colleague.full_name = "Priya Colleague"
    colleague.save()
    notification = inbox_notification(la, setting)
    detail = sw_client.get(_detail(notification)).content.decode()
    assert "Priya Colleague" in detail and 'name="assignee"' in detail

    response = sw_client.post(
        reverse("notifications:notification_assign", args=[notification.pk]), {"assignee": colleague.pk}
    )

    notification.refresh_from_db()
    assert response.status_code == 302 and notification.assigned_to == colleague
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_ASSIGNED)
    assert event.detail["assigned_to"] == colleague.pk


def test_a_social_worker_of_another_la_cannot_be_assigned(sw_client, la, setting):
    outsider = user_with_role(Role.SOCIAL_WORKER, OrganisationFactory(local_authority=True))
    notification = inbox_notification(la, setting)

    response = sw_client.post(
        reverse("notifications:notification_assign", args=[notification.pk]), {"assignee": outsider.pk}
    )

    notification.refresh_from_db()
    assert response.status_code == 302 and notification.assigned_to is None


def test_inbox_date_filter_uses_the_nhs_date_input(sw_client, la, setting):
    inbox_notification(la, setting, family_name="Boxdated")
    today = timezone.localdate()
    page = sw_client.get(INBOX).content.decode()
    assert 'name="date_from_day"' in page and 'name="date_to_year"' in page

    found = sw_client.get(
        INBOX,
        {"date_from_day": today.day, "date_from_month": today.month, "date_from_year": today.year},
    )
    assert found.status_code == 200 and "Boxdated" in found.content.decode()
    refused = sw_client.get(INBOX, {"date_from_day": "31", "date_from_month": "2", "date_from_year": "2026"})
    assert refused.status_code == 400 and "Enter a real date" in refused.content.decode()
