"""The service-health page and an LA's delivery page: the figures, scoped, and no child data."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Role
from cpis.health import HEARTBEAT_KEY, worker_heartbeat
from notifications.models import Channel, Delivery, DeliveryStatus
from notifications.tasks import deliveries_sweep
from operations.models import PeriodicTaskRun
from operations.tasks import POOL_HEARTBEAT_KEY, pool_heartbeat
from tests.factories import OrganisationFactory
from tests.notifications.checks import child_on_plan, record_check

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _row(text: str, channel_label: str) -> str:
    return re.search(rf"<th scope=\"row\" class=\"nhsuk-table__cell\">{channel_label}</th>(.*?)</tr>", text).group(1)


def test_each_beat_task_records_its_last_successful_run():
    assert not PeriodicTaskRun.objects.exists()
    worker_heartbeat.apply()
    deliveries_sweep.apply()
    assert set(PeriodicTaskRun.objects.values_list("task", flat=True)) == {
        "cpis.health.worker_heartbeat",
        "notifications.tasks.deliveries_sweep",
    }


def test_service_health_shows_backlog_failures_and_jobs_to_national_admins(
    role_user, client_for, local_authority, care_setting
):
    plan = child_on_plan(local_authority, family_name="Quibbleworth")
    record_check(plans=[plan], care_setting=care_setting)
    Delivery.objects.filter(channel=Channel.EMAIL).update(status=DeliveryStatus.FAILED)
    worker_heartbeat.apply()
    cache.delete_many(
        [POOL_HEARTBEAT_KEY.format(q) for q in ("deliveries-inbox", "deliveries-email", "deliveries-webhook")]
    )
    pool_heartbeat.apply(("deliveries-inbox",))
    response = client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("operations:service_health"))
    assert response.status_code == 200
    text = _text(response)
    assert "Running" in text and "Last heartbeat" in text
    assert re.search(r"<td class=\"nhsuk-table__cell\">1</td>", _row(text, "In-app inbox"))
    assert "1 failed" in _row(text, "Team mailbox e-mail")
    # Each channel's pool proves itself alive separately: here only the inbox's ran.
    assert "Running" in _row(text, "In-app inbox") and "Not running" in _row(text, "Case-management webhook")
    assert "See the 1 failed deliveries and try them again" in text
    assert "notifications-sweep" in text and "Late" in text  # never ran in this test
    # The refresh is a static file; the only inline script is the NHS.UK template's own.
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
    assert "auto-refresh.js" in text and len(inline) == 1 and "nonce=" in inline[0]
    assert plan.nhs_number not in text and "Quibbleworth" not in text


def test_an_la_admin_sees_only_their_own_la(role_user, client_for, local_authority, care_setting):
    cache.delete(HEARTBEAT_KEY)  # no worker
    other = OrganisationFactory(local_authority=True)
    record_check(plans=[child_on_plan(other)], care_setting=care_setting)
    record_check(plans=[child_on_plan(other)], care_setting=care_setting)
    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    response = client_for(role_user(Role.ORG_ADMIN, local_authority)).get(reverse("operations:la_deliveries"))
    assert response.status_code == 200
    text = _text(response)
    assert local_authority.name in text
    assert re.search(r"<td class=\"nhsuk-table__cell\">1</td>", _row(text, "In-app inbox"))
    assert "Not running" in text


def test_each_worker_is_listed_by_name_and_one_unheard_of_for_two_heartbeats_is_gone(role_user, client_for, settings):
    from datetime import timedelta

    from django.utils import timezone

    from operations.models import WorkerPresence
    from operations.tasks import worker_presence_record

    settings.WORKER_PRESENCE_SECONDS = 30
    worker_presence_record(hostname="inbox@host-b", queues="deliveries-inbox")
    WorkerPresence.objects.create(
        hostname="inbox@host-a", queues="deliveries-inbox", last_seen_at=timezone.now() - timedelta(seconds=61)
    )
    # Gone for over a day: a host replaced for good is forgotten at the next record.
    WorkerPresence.objects.create(hostname="old@host-z", last_seen_at=timezone.now() - timedelta(days=2))
    worker_presence_record(hostname="inbox@host-b", queues="deliveries-inbox")

    page = client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("operations:service_health")).content.decode()
    rows = dict(re.findall(r'data-worker="([^"]+)" data-gone="(\w+)"', page))
    assert rows == {"inbox@host-b": "false", "inbox@host-a": "true"}


def test_the_demo_says_tasks_run_in_the_web_process_instead_of_all_red(role_user, client_for, settings):
    # `make run` has no broker: tasks run in the web process by design (cpis/in_process.py).
    settings.IN_PROCESS_TASKS = True
    cache.delete(HEARTBEAT_KEY)
    text = _text(client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("operations:service_health")))
    assert "Tasks run in the web process (demo)" in text
    assert "Not running" not in text
    assert "Late" not in text
    assert "In the web process" in _row(text, "In-app inbox")


def test_without_the_demo_a_missing_worker_is_still_shown_down(role_user, client_for, settings):
    settings.IN_PROCESS_TASKS = False
    cache.delete(HEARTBEAT_KEY)
    text = _text(client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("operations:service_health")))
    assert "Not running" in text and "Late" in text
    assert "web process" not in text


def test_the_audit_events_per_day_start_at_midnight_six_days_ago_and_read_by_time(django_assert_max_num_queries):
    import datetime as dt

    from django.utils import timezone

    from audit.models import AuditAction, AuditEvent
    from core.dates import day_start
    from operations.services import AUDIT_DAYS, service_health

    first_day = timezone.localdate() - dt.timedelta(days=AUDIT_DAYS - 1)
    for at in (day_start(first_day) - dt.timedelta(microseconds=1), day_start(first_day), timezone.now()):
        AuditEvent.objects.create(action=AuditAction.LOGIN, occurred_at=at)
    with django_assert_max_num_queries(30) as queries:
        per_day = dict(service_health().audit_per_day)
    assert per_day[first_day] == 1 and first_day - dt.timedelta(days=1) not in per_day
    assert sum(per_day.values()) == 2
    # A range on the column itself, which the time index and the monthly partitions serve; a
    # date taken of the column would read every partition of the log.
    (audit_sql,) = [q["sql"] for q in queries.captured_queries if "GROUP BY" in q["sql"] and "auditevent" in q["sql"]]
    where = audit_sql.split("WHERE", 1)[1]
    assert '"audit_auditevent"."occurred_at" >=' in where and "::date" not in where.split("GROUP BY")[0]
