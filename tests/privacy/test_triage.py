"""Triage of alerts (issue 29): the privacy officer's home, masking until an investigation is
opened with a reason, outcomes recorded and counted, never one's own activity; the national
admin's counts without identities."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from privacy.models import Alert, AlertRule, AlertStatus
from privacy.services import alerts_scan, investigation_open
from tests.factories import nhs_number_for
from tests.privacy.history import NOW, at, check

pytestmark = pytest.mark.django_db

CHILD = nhs_number_for(4242)


@pytest.fixture
def officer(role_user, care_setting):
    return role_user(Role.PRIVACY_OFFICER, care_setting)


@pytest.fixture
def clinician(role_user, care_setting):
    return role_user(Role.CLINICIAN, care_setting)


@pytest.fixture
def alert(clinician, care_setting):
    """A real alert from the scan: the same child checked again after no plan was found."""
    check(clinician, care_setting, at(0, 8), nhs_number=CHILD)
    check(clinician, care_setting, at(0, 11), nhs_number=CHILD)
    alerts_scan(now=NOW)
    return Alert.objects.get(rule=AlertRule.REPEAT_CHILD)


def _alert_url(alert, name="alert"):
    return reverse(f"privacy:{name}", kwargs={"alert_id": alert.pk})


def test_home_lists_the_organisations_open_alerts(client_for, officer, alert, clinician):
    page = client_for(officer).get(reverse("privacy:home")).content.decode()
    assert _alert_url(alert) in page and clinician.full_name in page


def test_home_leaves_out_another_organisations_alerts(client_for, role_user, other_care_setting, alert):
    elsewhere = role_user(Role.PRIVACY_OFFICER, other_care_setting)
    page = client_for(elsewhere).get(reverse("privacy:home")).content.decode()
    assert _alert_url(alert) not in page and 'data-testid="no-alerts"' in page
    assert client_for(elsewhere).get(_alert_url(alert)).status_code == 404


def test_evidence_is_masked_until_an_investigation_is_opened(client_for, officer, alert):
    client = client_for(officer)
    page = client.get(_alert_url(alert)).content.decode()
    assert CHILD not in page
    assert "******" + CHILD[-4:] in page
    assert "3 hours after a check that found no plan" in page
    viewed = AuditEvent.objects.get(action=AuditAction.PRIVACY_ALERT_VIEWED)
    assert viewed.detail == {"alert_id": alert.pk, "rule": alert.rule, "unmasked": False}

    response = client.post(_alert_url(alert, "investigation_open"), {"reason": "Complaint from the family"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.INVESTIGATING and alert.investigated_by == officer
    opened = AuditEvent.objects.get(action=AuditAction.PRIVACY_INVESTIGATION_OPENED)
    assert opened.user == officer and opened.detail["alert_id"] == alert.pk
    # The reason stays on the alert: free text never goes into the audit detail.
    assert "Complaint" not in str(opened.detail)
    assert CHILD in client.get(_alert_url(alert)).content.decode()


def test_an_investigation_needs_a_reason(client_for, officer, alert):
    response = client_for(officer).post(_alert_url(alert, "investigation_open"), {"reason": "  "})
    assert response.status_code == 400
    assert "Enter why you are opening an investigation" in response.content.decode()
    assert CHILD not in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_an_outcome_is_recorded_audited_and_counted(client_for, officer, alert):
    client = client_for(officer)
    client.post(_alert_url(alert, "investigation_open"), {"reason": "Routine review"})
    response = client.post(
        _alert_url(alert, "alert_close"), {"outcome": "concern", "note": "Not the treating clinician"}
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED and alert.outcome == "concern" and alert.closed_by == officer
    closed = AuditEvent.objects.get(action=AuditAction.PRIVACY_ALERT_CLOSED)
    assert closed.detail["outcome"] == "concern" and "treating" not in str(closed.detail)
    home = client.get(reverse("privacy:home")).content.decode()
    assert 'data-testid="no-alerts"' in home
    row = home.split(AlertRule.REPEAT_CHILD.label)[1].split("</tr>")[0]
    assert row.count(">1</td>") == 1  # one concern, nothing else


def test_no_outcome_before_an_investigation(client_for, officer, alert):
    response = client_for(officer).post(_alert_url(alert, "alert_close"), {"outcome": "no_concern", "note": "x"})
    assert response.status_code == 400
    assert "Open an investigation before recording an outcome" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_a_privacy_officer_never_reviews_their_own_activity(client_for, care_setting, alert, clinician):
    # The clinician behind the alert is made a privacy officer too.
    from accounts.models import Membership

    Membership.objects.create(user=clinician, organisation=care_setting, role=Role.PRIVACY_OFFICER)
    client = client_for(clinician)
    assert _alert_url(alert) not in client.get(reverse("privacy:home")).content.decode()
    assert client.get(_alert_url(alert)).status_code == 404
    assert client.post(_alert_url(alert, "investigation_open"), {"reason": "Mine"}).status_code == 404
    with pytest.raises(Exception, match="your own activity"):
        investigation_open(alert=alert, by=clinician, reason="Mine")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_an_untrained_privacy_officer_is_stopped_at_the_gate(client_for, role_user, care_setting):
    untrained = role_user(Role.PRIVACY_OFFICER, care_setting, trained=False)
    response = client_for(untrained).get(reverse("privacy:home"))
    assert response.status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.GATE_REFUSED, user=untrained).exists()


def test_a_privacy_officer_without_the_second_factor_is_stopped_at_the_gate(client_for, officer):
    response = client_for(officer, verified=False).get(reverse("privacy:home"))
    assert response.status_code == 403


def test_national_admin_sees_counts_by_organisation_and_rule_never_identities(
    client_for, role_user, alert, clinician, care_setting
):
    page = client_for(role_user(Role.NATIONAL_ADMIN)).get(reverse("privacy:national")).content.decode()
    assert care_setting.name in page and AlertRule.REPEAT_CHILD.label in page
    assert clinician.full_name not in page and CHILD[-4:] not in page
    assert _alert_url(alert) not in page


def test_the_audit_log_of_an_alert_does_not_say_whom_it_is_about(client_for, officer, alert, clinician):
    # National admins read every organisation's audit log: the alert's events name the alert only.
    client = client_for(officer)
    client.post(_alert_url(alert, "investigation_open"), {"reason": "Routine review"})
    client.post(_alert_url(alert, "alert_close"), {"outcome": "no_concern", "note": "Fine"})
    actions = (
        AuditAction.PRIVACY_ALERT_RAISED,
        AuditAction.PRIVACY_INVESTIGATION_OPENED,
        AuditAction.PRIVACY_ALERT_CLOSED,
    )
    events = AuditEvent.objects.filter(action__in=actions)
    assert events.count() == 3
    for event in events:
        assert clinician.pk not in event.detail.values() and event.user != clinician
