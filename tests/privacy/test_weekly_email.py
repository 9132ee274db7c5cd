"""The weekly e-mail to each organisation's privacy officers: how many alerts are open, nothing
else (issue 29)."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from privacy.models import Alert, AlertOutcome, AlertRule, AlertStatus
from privacy.services import open_alerts_email_send

pytestmark = pytest.mark.django_db


def test_each_privacy_officer_is_told_only_how_many_alerts_are_open(
    role_user, care_setting, local_authority, django_capture_on_commit_callbacks
):
    officer = role_user(Role.PRIVACY_OFFICER, care_setting)
    la_officer = role_user(Role.PRIVACY_OFFICER, local_authority)
    subject = role_user(Role.CLINICIAN, care_setting)
    for n in range(2):
        Alert.objects.create(
            organisation=care_setting, user=subject, rule=AlertRule.VOLUME, dedupe_key=str(n), explanation="x"
        )
    Alert.objects.create(
        organisation=care_setting, user=subject, rule=AlertRule.NO_PLAN, dedupe_key="c", explanation="x",
        status=AlertStatus.CLOSED, investigation_reason="r", investigated_at=timezone.now(),
        outcome=AlertOutcome.NO_CONCERN, closed_at=timezone.now(),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert open_alerts_email_send() == 2
    by_recipient = {m.to[0]: m.body for m in mail.outbox}
    assert "There are 2 access-pattern alerts open" in by_recipient[officer.email]
    assert "There are 0 access-pattern alerts open" in by_recipient[la_officer.email]
    body = by_recipient[officer.email]
    assert subject.full_name not in body and "volume" not in body.lower()
    sent = AuditEvent.objects.filter(action=AuditAction.PRIVACY_OPEN_ALERTS_SENT)
    assert {e.detail["open_alerts"] for e in sent} == {0, 2}


def test_a_second_run_in_the_same_week_sends_nothing_and_next_week_sends_again(
    role_user, care_setting, django_capture_on_commit_callbacks
):
    officer = role_user(Role.PRIVACY_OFFICER, care_setting)

    def send_at(when: dt.datetime) -> int:
        with time_machine.travel(when, tick=False), django_capture_on_commit_callbacks(execute=True):
            return open_alerts_email_send()

    assert send_at(dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)) == 1
    assert send_at(dt.datetime(2026, 11, 16, 8, 5, tzinfo=dt.UTC)) == 0
    assert send_at(dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)) == 1
    assert [m.to for m in mail.outbox] == [[officer.email]] * 2
    assert AuditEvent.objects.filter(action=AuditAction.PRIVACY_OPEN_ALERTS_SENT).count() == 2


def test_an_officers_count_leaves_out_the_alerts_about_themself(
    role_user, care_setting, django_capture_on_commit_callbacks
):
    officer = role_user(Role.PRIVACY_OFFICER, care_setting)
    colleague = role_user(Role.PRIVACY_OFFICER, care_setting)
    Alert.objects.create(
        organisation=care_setting, user=officer, rule=AlertRule.VOLUME, dedupe_key="o", explanation="x"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert open_alerts_email_send() == 2
    by_recipient = {m.to[0]: m.body for m in mail.outbox}
    assert "There are 0 access-pattern alerts open" in by_recipient[officer.email]
    assert "There is 1 access-pattern alert open" in by_recipient[colleague.email]
