"""Reports: figures per organisation and date range, charts as accessible SVG, CSV export."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification, NotificationStatus
from plans.models import PlanUpload, UploadStatus
from reports.metrics import percentile
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_percentile_is_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([4, 1, 3, 2], 0.5) == 2
    assert percentile(list(range(1, 11)), 0.9) == 9


def test_la_report_counts_notifications_acknowledgement_times_overdue_and_uploads(
    client_for, local_authority, other_local_authority, care_setting
):
    for hours in (1, 3, 10):
        n = inbox_notification(local_authority, care_setting)
        Notification.objects.filter(pk=n.pk).update(
            status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=n.created_at + timedelta(hours=hours)
        )
    late = inbox_notification(local_authority, care_setting)
    Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    inbox_notification(other_local_authority, care_setting)  # another LA's: not counted
    PlanUpload.objects.create(organisation=local_authority, filename="a.csv", status=UploadStatus.APPLIED,
                              applied_at=timezone.now(), counts={"rows": 100, "accepted": 90})  # fmt: skip
    client = client_for(user_with_role(Role.ORG_ADMIN, local_authority))

    page = re.sub(r"\s+", " ", client.get("/reports/").content.decode())

    assert 'Notifications</dt><dd class="nhsuk-summary-list__value">4<' in page
    assert "3 hours" in page and "10 hours" in page  # median 3, 90th percentile 10
    assert 'Became overdue</dt><dd class="nhsuk-summary-list__value">1<' in page
    assert "90% of 100 rows: below the go-live rule of 95%" in page
    svg = re.search(r'<svg class="cpis-chart__svg".*?</svg>', page)[0]
    assert 'role="img"' in svg and "<title id=" in svg and "<desc id=" in svg
    assert "style=" not in page.split("<main", 1)[1] and "<script" not in page.split("<main", 1)[1]
    rows = _csv(client.get("/reports/report.csv"))
    assert rows[0] == ["week_starting", "notifications"] and sum(int(r[1]) for r in rows[1:]) == 4


def test_care_setting_report_counts_checks_per_day_and_alert_share(client_for, care_setting, other_care_setting):
    for plan_ids in ([1], [], []):
        AuditEvent.objects.create(action=AuditAction.CHILD_CHECKED, organisation=care_setting,
                                  detail={"plan_ids": plan_ids})  # fmt: skip
    AuditEvent.objects.create(
        action=AuditAction.CHILD_CHECKED, organisation=other_care_setting, detail={"plan_ids": [2]}
    )
    client = client_for(user_with_role(Role.ORG_ADMIN, care_setting))

    page = re.sub(r"\s+", " ", client.get("/reports/").content.decode())

    assert 'Checks</dt><dd class="nhsuk-summary-list__value">3<' in page
    assert "1 (33.3%)" in page
    rows = _csv(client.get("/reports/report.csv"))
    assert rows[0] == ["day", "checks", "alerts"]
    assert rows[-1][1:] == ["3", "1"]


def test_national_report_puts_organisations_side_by_side(client_for, national, local_authority, care_setting):
    inbox_notification(local_authority, care_setting)
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    page = client.get("/reports/").content.decode()
    assert 'data-testid="national-las"' in page and local_authority.name in page
    assert 'data-testid="chart-acceptance-by-la"' in page and "cpis-chart__rule" in page
    rows = _csv(client.get("/reports/report.csv"))
    by_code = {r[0]: r for r in rows[1:]}
    assert by_code[local_authority.ods_code][3] == "1"
    assert by_code[care_setting.ods_code][2] == "care setting"


def test_date_range_is_chosen_with_the_date_input_and_checked(client_for, local_authority, care_setting):
    old = inbox_notification(local_authority, care_setting)
    Notification.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=200))
    client = client_for(user_with_role(Role.ORG_ADMIN, local_authority))
    start = timezone.localdate() - timedelta(days=210)
    end = timezone.localdate() - timedelta(days=190)
    query = {"date_from_day": start.day, "date_from_month": start.month, "date_from_year": start.year,
             "date_to_day": end.day, "date_to_month": end.month, "date_to_year": end.year}  # fmt: skip

    page = re.sub(r"\s+", " ", client.get("/reports/", query).content.decode())
    assert 'Notifications</dt><dd class="nhsuk-summary-list__value">1<' in page
    assert f"{start:%-d %B %Y} to {end:%-d %B %Y}" in page
    assert sum(int(r[1]) for r in _csv(client.get("/reports/report.csv", query))[1:]) == 1

    backwards = client.get("/reports/", {**query, "date_to_year": start.year - 1})
    assert backwards.status_code == 400 and "There is a problem" in backwards.content.decode()
    nonsense = client.get("/reports/", {"date_from_day": "x", "date_from_month": "<", "date_from_year": "20"})
    assert nonsense.status_code == 400


def test_a_percentage_chart_is_scaled_to_100_with_the_target_line():
    from reports.charts import bar_chart

    chart = bar_chart(
        id="x", title="Accepted", points=[("LA001", 50)], unit="%", maximum=100, rule=95, rule_label="95%"
    )
    assert chart.maximum == 100
    assert chart.bars[0].height == pytest.approx((chart.height - 28 - 12) / 2, abs=0.1)
    assert chart.rule_y is not None and "1 bar from LA001" in chart.description


def test_national_report_query_count_does_not_grow_with_the_organisations(
    client_for, national, local_authority, care_setting, django_assert_max_num_queries
):
    from tests.factories import OrganisationFactory

    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    inbox_notification(local_authority, care_setting)
    with django_assert_max_num_queries(100) as few:
        assert client.get("/reports/").status_code == 200
    for i in range(3):
        la = OrganisationFactory(local_authority=True, ods_code=f"LA10{i}")
        setting = OrganisationFactory(ods_code=f"RDE1{i}")
        inbox_notification(la, setting)
        AuditEvent.objects.create(action=AuditAction.CHILD_CHECKED, organisation=setting, detail={"plan_ids": [i]})
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/reports/").status_code == 200


def test_national_report_figures_match_each_organisations_own_report(
    client_for, national, care_setting, local_authority
):
    """The grouped queries give each organisation the figures its own report gives it."""
    from reports.metrics import (
        care_setting_report,
        care_setting_reports,
        local_authority_report,
        local_authority_reports,
    )
    from tests.factories import OrganisationFactory

    other = OrganisationFactory(local_authority=True, ods_code="LA201")
    for la, hours in ((local_authority, (1, 5, 9)), (other, (2,))):
        for h in hours:
            n = inbox_notification(la, care_setting)
            Notification.objects.filter(pk=n.pk).update(
                status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=n.created_at + timedelta(hours=h)
            )
    for plan_ids in ([1, 2], [], [3]):
        AuditEvent.objects.create(
            action=AuditAction.CHILD_CHECKED, organisation=care_setting, detail={"plan_ids": plan_ids}
        )
    end = timezone.localdate()
    start = end - timedelta(days=20)

    together = local_authority_reports([local_authority, other], start, end)
    assert [(r.notifications, r.median_hours, r.p90_hours, r.weeks) for r in together] == [
        (r.notifications, r.median_hours, r.p90_hours, r.weeks)
        for r in (local_authority_report(local_authority, start, end), local_authority_report(other, start, end))
    ]
    assert (together[0].notifications, together[0].median_hours, together[0].p90_hours) == (3, 5.0, 9.0)
    (setting_report,) = care_setting_reports([care_setting], start, end)
    events = AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, organisation=care_setting)
    expected = (events.count(), sum(bool(e.detail.get("plan_ids")) for e in events))
    assert expected[0] == expected[1] + 1  # the notifications' checks, and ours: one without a plan
    assert (setting_report.checks, setting_report.alerts) == expected
    assert setting_report.days == care_setting_report(care_setting, start, end).days
    assert setting_report.days[-1] == (end, *expected)


def test_a_chart_labels_its_axis_in_round_steps_and_the_rule_at_its_value():
    from reports.charts import bar_chart

    chart = bar_chart(
        id="x", title="Accepted", points=[("Northshire County Council", 50)], unit="%", maximum=100, rule=95,
        rule_label="95%",
    )  # fmt: skip
    assert [t.label for t in chart.ticks] == ["0%", "25%", "50%", "75%", "100%"]
    # The 95% line sits between the 75% and 100% ticks, nearer 100, and says 95%.
    by_label = {t.label: t.y for t in chart.ticks}
    assert by_label["100%"] < chart.rule_y < by_label["75%"]
    assert chart.rule_y == pytest.approx(by_label["100%"] + (by_label["75%"] - by_label["100%"]) / 5, abs=0.2)
    assert chart.rule_text == "95%"
    assert [t.label for t in bar_chart(id="y", title="Checks", points=[("a", 7)]).ticks] == ["0", "2", "4", "6"]


def test_the_national_charts_name_the_organisations(client_for, national, local_authority, care_setting):
    page = client_for(user_with_role(Role.NATIONAL_ADMIN, national)).get("/reports/").content.decode()
    chart = re.search(r'data-testid="chart-notifications-by-la">(.*?)</figure>', page, re.S).group(1)
    assert local_authority.name[:8] in chart and f"<title>{local_authority.name}: " in chart
    assert local_authority.ods_code not in chart
    ticks = re.findall(r"<text class=\"cpis-chart__tick\" data-tick[^>]*>([^<]*)</text>", chart)
    assert len(ticks) >= 3 and ticks[0] == "0"
