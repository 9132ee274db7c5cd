"""The outbox: notification and delivery rows are written with the visit, or not at all."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from attendances.models import Visit
from attendances.services import check
from notifications.models import Channel, Delivery, DeliveryStatus, Notification, NotificationStatus, WebhookEndpoint
from notifications.services import notification_record_attendance, outbox
from plans.models import Plan
from tests.factories import OrganisationFactory, PlanFactory
from tests.notifications.checks import record_check

# Also on SQLite, as the demo runs (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture(autouse=True, params=["one statement", "orm"])
def recorder(request, monkeypatch):
    """Every outbox test runs against both ways of recording: PostgreSQL's single statement
    and the ORM's, which the SQLite demo uses."""
    if request.param == "orm":
        monkeypatch.setattr(outbox, "_record_in_one_statement", outbox._record_with_orm)
        # A check's own one statement (the visit and audit event with these rows) too.
        monkeypatch.setattr(check, "_record_in_one_statement", check._record_with_orm)
    return request.param


def test_check_writes_one_notification_and_a_delivery_per_channel(plan, setting, webhook_endpoint, la):
    record_check(plans=[plan], care_setting=setting)

    notification = Notification.objects.get()
    assert notification.local_authority == la
    assert sorted(notification.deliveries.values_list("channel", "status")) == [
        (Channel.EMAIL, DeliveryStatus.PENDING),
        (Channel.INBOX, DeliveryStatus.PENDING),
        (Channel.WEBHOOK, DeliveryStatus.PENDING),
    ]
    assert notification.due_at > notification.created_at


def test_la_without_mailbox_or_webhook_gets_the_inbox_only(setting):
    la = OrganisationFactory(local_authority=True, team_mailbox="")
    record_check(plans=[PlanFactory(organisation=la)], care_setting=setting)
    assert list(Delivery.objects.values_list("channel", flat=True)) == [Channel.INBOX]


def test_each_la_in_one_check_gets_its_own_notification_and_its_own_channels(plan, setting, la):
    # One LA with a mailbox and an active endpoint, one with neither (its endpoint is off).
    WebhookEndpoint.objects.create(local_authority=la, url="https://la.example/hook", secret="s" * 32)
    other = OrganisationFactory(local_authority=True, team_mailbox="")
    WebhookEndpoint.objects.create(
        local_authority=other, url="https://other.example/hook", secret="u" * 32, is_active=False
    )
    PlanFactory(organisation=other, nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth, looked_after=True)
    PlanFactory(organisation=other, nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth)

    record_check(plans=[plan], care_setting=setting)

    mine, theirs = Notification.objects.get(local_authority=la), Notification.objects.get(local_authority=other)
    assert sorted(mine.deliveries.values_list("channel", flat=True)) == [Channel.EMAIL, Channel.INBOX, Channel.WEBHOOK]
    assert list(theirs.deliveries.values_list("channel", flat=True)) == [Channel.INBOX]
    assert (mine.family_name, mine.plan_types, theirs.plan_types) == ("Quibbleworth", "CPP", "CPP,LAC")
    assert mine.attendance_count == theirs.attendance_count == 1
    assert mine.status == theirs.status == NotificationStatus.NEW


def test_names_reach_the_notification_exactly_as_written(setting, la):
    # Quotes, SQL and non-ASCII letters are data: bound as parameters, stored as given.
    plan = PlanFactory(organisation=la, family_name="O'Brien'); DROP TABLE plans_plan; --", given_names="Zoë-Anne")

    record_check(plans=[plan], care_setting=setting)

    notification = Notification.objects.get()
    assert (notification.family_name, notification.given_names) == (plan.family_name, "Zoë-Anne")
    assert Plan.objects.filter(pk=plan.pk).exists()


def test_a_repeat_check_joins_one_las_episode_and_opens_one_for_an_la_new_to_the_child(plan, setting, la):
    first = timezone.now() - timedelta(hours=3)
    record_check(plans=[plan], care_setting=setting, arrived_at=first)
    other = OrganisationFactory(local_authority=True)
    PlanFactory(organisation=other, nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth)

    record_check(plans=[plan], care_setting=setting, arrived_at=first + timedelta(hours=2))

    joined = Notification.objects.get(local_authority=la)
    assert (joined.attendance_count, joined.last_attended_at) == (2, first + timedelta(hours=2))
    assert joined.deliveries.count() == 2  # inbox and e-mail from the first check, nothing new
    opened = Notification.objects.get(local_authority=other)
    assert (opened.attendance_count, opened.first_attended_at) == (1, first + timedelta(hours=2))
    assert opened.deliveries.filter(status=DeliveryStatus.PENDING).exists()


def test_an_earlier_arrival_joins_without_moving_the_last_attendance_back(plan, setting):
    latest = timezone.now() - timedelta(hours=1)
    record_check(plans=[plan], care_setting=setting, arrived_at=latest)
    record_check(plans=[plan], care_setting=setting, arrived_at=latest - timedelta(hours=5))

    notification = Notification.objects.get()
    assert (notification.attendance_count, notification.last_attended_at) == (2, latest)


def test_a_check_that_rolls_back_leaves_no_notification_and_no_delivery(plan, setting):
    # The check's transaction fails after notifying (say, writing the audit row): nothing survives.
    with pytest.raises(RuntimeError), transaction.atomic():
        visit = Visit.objects.create(
            nhs_number=plan.nhs_number,
            arrived_at=timezone.now(),
            care_setting=setting,
            checked_by_name="Dr A",
            checked_by_role="clinician",
        )
        notification_record_attendance(visit=visit, plans=[plan])
        raise RuntimeError("audit write failed")
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_repeat_check_in_the_episode_joins_and_sends_nothing_new(plan, setting, django_capture_on_commit_callbacks):
    first = timezone.now() - timedelta(hours=3)
    with django_capture_on_commit_callbacks(execute=True) as first_callbacks:
        record_check(plans=[plan], care_setting=setting, arrived_at=first)
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        record_check(plans=[plan], care_setting=setting, arrived_at=first + timedelta(hours=2))

    notification = Notification.objects.get()
    assert notification.attendance_count == 2
    assert Delivery.objects.count() == 2  # inbox + e-mail, once
    assert len(first_callbacks) == 1
    assert second_callbacks == []
    assert len(mail.outbox) == 1


def test_child_on_plans_with_two_las_notifies_each_once(setting):
    first = PlanFactory()
    second = PlanFactory(nhs_number=first.nhs_number, date_of_birth=first.date_of_birth, looked_after=True)
    record_check(plans=[first, second], care_setting=setting)
    assert sorted(Notification.objects.values_list("local_authority_id", flat=True)) == sorted(
        [first.organisation_id, second.organisation_id]
    )
    assert Delivery.objects.filter(channel=Channel.INBOX).count() == 2


def test_delivery_is_published_on_commit_not_before(plan, setting, django_capture_on_commit_callbacks):
    with mock.patch("notifications.tasks.delivery_send.apply_async") as publish:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            record_check(plans=[plan], care_setting=setting)
        assert publish.call_count == 0
        for callback in callbacks:
            callback()
    assert publish.call_count == Delivery.objects.count() == 2


def test_a_check_publishes_one_message_for_all_its_deliveries(setting, django_capture_on_commit_callbacks):
    # Inbox and e-mail at two LAs: four deliveries, one publish in the clinician's request.
    first = PlanFactory()
    PlanFactory(nhs_number=first.nhs_number, date_of_birth=first.date_of_birth)
    with (
        mock.patch("notifications.tasks.deliveries_fan_out.apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        record_check(plans=[first], care_setting=setting)

    publish.assert_called_once()
    assert sorted(publish.call_args.args[0][0]) == sorted(Delivery.objects.values_list("pk", flat=True))
    assert Delivery.objects.count() == 4


def test_check_succeeds_when_the_broker_is_down_and_rows_wait_for_the_sweeper(
    plan, setting, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    with (
        mock.patch("notifications.tasks.deliveries_fan_out.apply_async", side_effect=OperationalError("refused")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        visit = record_check(plans=[plan], care_setting=setting)

    assert Visit.objects.filter(pk=visit.pk).exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_checks_of_one_child_make_one_notification_and_one_set_of_deliveries(plan, setting):
    # Two clinicians press "check" at once (or one double-submits): the child lock serialises
    # the episode decision, so the second joins the first's notification.
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    errors = []

    def check():
        try:
            barrier.wait()
            with mock.patch("notifications.services.delivery_dispatch"):
                record_check(plans=[plan], care_setting=setting)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Visit.objects.count() == 2
    notification = Notification.objects.get()
    assert notification.attendance_count == 2
    assert Delivery.objects.count() == 2  # inbox + e-mail, once
