"""An alert about an organisation's only privacy officer, whom nobody there may review: the
national admins review it (docs/privacy.md "Escalation"), masked until they open an
investigation; a second officer at the organisation takes it back."""

import pytest
from django.urls import reverse

from accounts.access import SESSION_ORGANISATION_KEY
from accounts.models import Membership, Role
from audit.models import AuditAction, AuditEvent, AuditOutcome
from privacy.models import Alert, AlertRule, AlertStatus
from privacy.selectors import alerts_escalated
from privacy.services import alerts_scan
from tests.factories import nhs_number_for
from tests.privacy.history import NOW, at, check

pytestmark = pytest.mark.django_db

CHILD = nhs_number_for(4343)


@pytest.fixture
def officer(role_user, care_setting):
    return role_user(Role.PRIVACY_OFFICER, care_setting)


@pytest.fixture
def national_admin(role_user):
    return role_user(Role.NATIONAL_ADMIN)


@pytest.fixture
def alert(officer, care_setting):
    """A real alert from the scan about the care setting's only privacy officer, who also checks
    children as a clinician there."""
    Membership.objects.create(user=officer, organisation=care_setting, role=Role.CLINICIAN)
    check(officer, care_setting, at(0, 8), nhs_number=CHILD)
    check(officer, care_setting, at(0, 11), nhs_number=CHILD)
    alerts_scan(now=NOW)
    return Alert.objects.get(rule=AlertRule.REPEAT_CHILD, user=officer)


def _url(alert, name="alert"):
    return reverse(f"privacy:{name}", kwargs={"alert_id": alert.pk})


def test_the_national_admin_reviews_an_alert_about_the_only_privacy_officer(client_for, national_admin, alert, officer):
    client = client_for(national_admin)
    listing = client.get(reverse("privacy:national")).content.decode()
    assert _url(alert) in listing and officer.full_name in listing

    page = client.get(_url(alert)).content.decode()
    assert CHILD not in page and "******" + CHILD[-4:] in page
    assert client.post(_url(alert, "investigation_open"), {"reason": "Their organisation cannot"}).status_code == 302
    assert CHILD in client.get(_url(alert)).content.decode()
    response = client.post(_url(alert, "alert_close"), {"outcome": "no_concern", "note": "Their own child's visit"})
    assert response.status_code == 302 and response["Location"] == reverse("privacy:national")

    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED
    assert alert.investigated_by == national_admin and alert.closed_by == national_admin
    audited = AuditEvent.objects.filter(user=national_admin, detail__alert_id=alert.pk)
    assert set(audited.values_list("action", flat=True)) == {
        AuditAction.PRIVACY_ALERT_VIEWED,
        AuditAction.PRIVACY_INVESTIGATION_OPENED,
        AuditAction.PRIVACY_ALERT_CLOSED,
    }
    assert _url(alert) not in client.get(reverse("privacy:national")).content.decode()  # closed


def test_the_officer_never_sees_the_alert_about_themself(client_for, officer, alert):
    client = client_for(officer)
    assert _url(alert) not in client.get(reverse("privacy:home")).content.decode()
    assert client.get(_url(alert)).status_code == 404
    assert client.post(_url(alert, "investigation_open"), {"reason": "Nothing to see"}).status_code == 404
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_a_second_officer_takes_the_alert_back_from_the_national_admins(
    client_for, role_user, national_admin, alert, care_setting
):
    colleague = role_user(Role.PRIVACY_OFFICER, care_setting)
    assert not alerts_escalated().exists()
    admin = client_for(national_admin)
    assert _url(alert) not in admin.get(reverse("privacy:national")).content.decode()
    assert admin.get(_url(alert)).status_code == 404
    assert admin.post(_url(alert, "investigation_open"), {"reason": "Curious"}).status_code == 404
    assert AuditEvent.objects.filter(user=national_admin, outcome=AuditOutcome.DENIED).exists()
    assert _url(alert) in client_for(colleague).get(reverse("privacy:home")).content.decode()


def test_an_inactive_second_officer_does_not_take_it_back(role_user, alert, care_setting):
    colleague = role_user(Role.PRIVACY_OFFICER, care_setting)
    colleague.is_active = False
    colleague.save(update_fields=["is_active"])
    assert list(alerts_escalated()) == [alert]


def test_an_alert_about_someone_else_stays_with_the_organisation(
    client_for, role_user, national_admin, officer, care_setting
):
    clinician = role_user(Role.CLINICIAN, care_setting)
    check(clinician, care_setting, at(0, 8), nhs_number=CHILD)
    check(clinician, care_setting, at(0, 11), nhs_number=CHILD)
    alerts_scan(now=NOW)
    alert = Alert.objects.get(user=clinician)
    assert not alerts_escalated().exists()
    page = client_for(national_admin).get(reverse("privacy:national")).content.decode()
    assert clinician.full_name not in page and 'data-testid="no-escalated-alerts"' in page
    assert client_for(national_admin).get(_url(alert)).status_code == 404


def test_a_national_admin_is_never_shown_an_escalated_alert_about_themself(client_for, alert, officer, national):
    # One person both: the officer of the care setting and a national admin.
    Membership.objects.create(user=officer, organisation=national, role=Role.NATIONAL_ADMIN)
    client = client_for(officer)
    session = client.session
    session[SESSION_ORGANISATION_KEY] = national.pk
    session.save()
    assert _url(alert) not in client.get(reverse("privacy:national")).content.decode()
    assert client.get(_url(alert)).status_code == 404


@pytest.mark.parametrize(
    "data", [{}, {"reason": ""}, {"reason": " " * 50}, {"reason": "x" * 100_000}, {"reason": "\x00<script>"}]
)
def test_hostile_reasons_from_a_national_admin_are_refused_without_a_500(client_for, national_admin, alert, data):
    response = client_for(national_admin).post(_url(alert, "investigation_open"), data)
    assert response.status_code in (302, 400)
    alert.refresh_from_db()
    if response.status_code == 400:
        assert alert.status == AlertStatus.OPEN
