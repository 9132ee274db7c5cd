"""The nightly re-verification and the Inactive NHS Number notification, against the local PDS."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from identity.models import IdentityStatus, VerifiedIdentity
from identity.reverification import identities_reverify
from notifications.models import Channel, Delivery, Notification, NotificationKind, WebhookEndpoint
from notifications.services import webhook_payload
from tests.factories import OrganisationFactory, PlanFactory, nhs_number_for
from tests.notifications.checks import record_check

pytestmark = pytest.mark.django_db


def _plan(n: int, la, **kwargs):
    kwargs.setdefault("date_of_birth", dt.date(2016, 5, 1))
    return PlanFactory(organisation=la, nhs_number=nhs_number_for(n), family_name="Smith", given_names="Ann",
                       end_date=None, **kwargs)  # fmt: skip


def _patient(plan, **extra) -> dict:
    return {"nhs_number": plan.nhs_number, "family": plan.family_name, "given": [plan.given_names],
            "birth_date": plan.date_of_birth.isoformat(), **extra}  # fmt: skip


@pytest.fixture
def social_worker(role_user, client_for):
    return client_for(role_user(Role.SOCIAL_WORKER))


def test_numbers_that_became_inactive_raise_a_notification_in_each_la_inbox(
    local_authority, other_local_authority, pds, social_worker, django_capture_on_commit_callbacks
):
    still_fine = _plan(1, local_authority)
    superseded = _plan(2, local_authority)
    _plan(2, other_local_authority)  # the same child, also known to another LA
    deceased = _plan(3, local_authority)
    invalidated = _plan(4, local_authority)
    vanished = _plan(5, local_authority)
    PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(6), end_date=dt.date(2026, 1, 1),
                start_date=dt.date(2025, 1, 1))  # ended: not re-verified  # fmt: skip
    last_night = timezone.now() - dt.timedelta(days=1)
    VerifiedIdentity.objects.create(
        nhs_number=superseded.nhs_number, date_of_birth=superseded.date_of_birth, checked_at=last_night
    )
    pds.add(
        _patient(still_fine),
        {"nhs_number": superseded.nhs_number, "superseded_by": still_fine.nhs_number},
        _patient(deceased, deceased="2026-10-01"),
        {"nhs_number": invalidated.nhs_number, "invalidated": True},
    )

    with django_capture_on_commit_callbacks(execute=True):
        result = identities_reverify(batch_size=2)  # three batches
    assert result == {"checked": 5, "inactive": 4, "notified": 5}
    assert pds.stats()["patient_requests"] == 5

    statuses = dict(VerifiedIdentity.objects.values_list("nhs_number", "status"))
    assert statuses == {
        still_fine.nhs_number: IdentityStatus.VERIFIED,
        superseded.nhs_number: IdentityStatus.SUPERSEDED,
        deceased.nhs_number: IdentityStatus.DECEASED,
        invalidated.nhs_number: IdentityStatus.INVALIDATED,
        vanished.nhs_number: IdentityStatus.NOT_FOUND,
    }
    notifications = Notification.objects.filter(kind=NotificationKind.INACTIVE_NHS_NUMBER)
    assert notifications.count() == 5
    assert {n.local_authority_id for n in notifications.filter(nhs_number=superseded.nhs_number)} == {
        local_authority.pk, other_local_authority.pk,
    }  # fmt: skip
    mine = notifications.get(nhs_number=superseded.nhs_number, local_authority=local_authority)
    assert (mine.inactive_reason, mine.replacement_nhs_number) == ("superseded", still_fine.nhs_number)
    assert mine.delivered_to_inbox_at is not None and mine.care_setting is None
    assert AuditEvent.objects.filter(action=AuditAction.NHS_NUMBER_INACTIVE).count() == 5

    inbox = social_worker.get("/inbox/").content.decode()
    assert inbox.count("Inactive NHS number") >= 4
    detail = social_worker.get(f"/inbox/{mine.pk}/").content.decode()
    assert "PDS has replaced this NHS number with another." in detail
    assert f"{still_fine.nhs_number[:3]} {still_fine.nhs_number[3:6]} {still_fine.nhs_number[6:]}" in detail

    # The same night again (a repeated run): nothing is asked. The next night: nobody is told twice.
    assert identities_reverify() == {"checked": 0, "inactive": 0, "notified": 0}
    with time_machine.travel(timezone.now() + dt.timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        again = identities_reverify()
    assert again["notified"] == 0 and again["checked"] == 5
    assert Notification.objects.filter(kind=NotificationKind.INACTIVE_NHS_NUMBER).count() == 5


def test_the_sandbox_deceased_patient_with_an_open_plan_is_reported_inactive(
    local_authority, pds, django_capture_on_commit_callbacks
):
    """9000000009 is deceased on the PDS sandbox: an open plan for her tells the LA once."""
    PlanFactory(organisation=local_authority, nhs_number="9000000009", family_name="Smith", given_names="Jane",
                date_of_birth=dt.date(2010, 10, 22), end_date=None)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        result = identities_reverify()
    assert result == {"checked": 1, "inactive": 1, "notified": 1}
    assert VerifiedIdentity.objects.get(nhs_number="9000000009").status == IdentityStatus.DECEASED
    notification = Notification.objects.get(kind=NotificationKind.INACTIVE_NHS_NUMBER)
    assert (notification.nhs_number, notification.inactive_reason) == ("9000000009", "deceased")


def test_a_pds_outage_stops_the_run_and_keeps_what_was_done(local_authority, pds):
    plans = [_plan(n, local_authority) for n in range(1, 7)]
    pds.add(*(_patient(p) for p in plans))
    pds.control(fail_after=3)
    result = identities_reverify(batch_size=2)
    # The first batch, and the answer the second got before the outage, are kept.
    assert result["checked"] == 3 and result["notified"] == 0
    assert VerifiedIdentity.objects.count() == 3
    pds.control(outage=False)
    result = identities_reverify(batch_size=10)
    # The rest are done now; those checked a moment ago are not asked again.
    assert result["checked"] == 3 and VerifiedIdentity.objects.count() == 6


def test_without_identity_service_nothing_is_reverified(local_authority, settings):
    settings.IDENTITY_SERVICE = "none"
    _plan(1, local_authority)
    assert identities_reverify() == {"checked": 0, "inactive": 0, "notified": 0}


@pytest.mark.parametrize("mailbox, webhook", [(True, True), (True, False), (False, False)])
def test_an_inactive_number_notification_goes_by_the_channels_of_an_attendance_notification(
    care_setting, pds, mailbox, webhook
):
    la = OrganisationFactory(local_authority=True, team_mailbox="team@la.example" if mailbox else "")
    if webhook:
        WebhookEndpoint.objects.create(local_authority=la, url="https://la.example/hook", secret="s" * 32)
    checked = _plan(11, la)
    pds.add(_patient(checked))
    record_check(plans=[checked], care_setting=care_setting)
    lapsed = _plan(12, la)  # not on PDS: not found, so inactive

    assert identities_reverify()["notified"] == 1

    def channels(kind):
        return set(Delivery.objects.filter(notification__kind=kind).values_list("channel", flat=True))

    expected = {Channel.INBOX} | ({Channel.EMAIL} if mailbox else set()) | ({Channel.WEBHOOK} if webhook else set())
    assert channels(NotificationKind.ATTENDANCE) == expected
    assert channels(NotificationKind.INACTIVE_NHS_NUMBER) == expected
    inactive = Notification.objects.get(kind=NotificationKind.INACTIVE_NHS_NUMBER)
    assert (inactive.nhs_number, inactive.plan_types) == (lapsed.nhs_number, lapsed.plan_type)


def test_the_webhook_says_which_number_became_inactive_and_why(local_authority, pds):
    _plan(1, local_authority, looked_after=True)
    identities_reverify()
    notification = Notification.objects.get(kind=NotificationKind.INACTIVE_NHS_NUMBER)

    payload = webhook_payload(notification=notification, delivery_id=1)

    assert payload["kind"] == "inactive_nhs_number"
    assert payload["child"]["nhs_number"] == nhs_number_for(1)
    assert payload["plan_types"] == ["LAC"]
    assert payload["inactive"] == {"reason": IdentityStatus.NOT_FOUND, "replacement_nhs_number": ""}
    assert payload["care_setting"] is None and payload["checked_by"] is None
