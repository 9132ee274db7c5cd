"""Checks for these tests, made through the real check journey (`child_check`)."""

from datetime import datetime

from django.utils import timezone

from attendances.models import Visit
from plans.models import Plan
from tests.factories import PlanFactory, nhs_number_for


def record_check(*, plans: list[Plan], care_setting, user=None, arrived_at: datetime | None = None) -> Visit:
    """A clinician's check of the child on `plans` (all one NHS number) at `care_setting`,
    exactly as the web journey and the FHIR API make it."""
    from attendances.services import child_check
    from tests.factories import user_with_role

    user = user or user_with_role("clinician", care_setting)
    result = child_check(
        nhs_number=plans[0].nhs_number,
        date_of_birth=None,
        arrived_at=arrived_at or timezone.now(),
        user=user,
        organisation=care_setting,
        role="clinician",
    )
    return result.visit


_used_nhs_numbers: set[str] = set()


def unique_nhs_number() -> str:
    """A valid test NHS number not handed out before in this run. (`nhs_number_for(n)` gives
    the same number for n and n+1 when n's check digit is impossible, so a factory sequence
    can repeat one.)"""
    n = 500_000 + len(_used_nhs_numbers)
    while True:
        number = nhs_number_for(n)
        if number not in _used_nhs_numbers:
            _used_nhs_numbers.add(number)
            return number
        n += 1


def child_on_plan(local_authority, **kwargs) -> Plan:
    return PlanFactory(organisation=local_authority, nhs_number=unique_nhs_number(), **kwargs)


def inbox_notification(local_authority, care_setting, *, arrived_at: datetime | None = None, **plan_kwargs):
    """A notification as the social worker sees it: checked, and delivered to the inbox."""
    from notifications.models import Channel, Delivery, Notification
    from notifications.services import delivery_attempt

    plan = child_on_plan(local_authority, **plan_kwargs)
    record_check(plans=[plan], care_setting=care_setting, arrived_at=arrived_at)
    notification = Notification.objects.get(nhs_number=plan.nhs_number, local_authority=local_authority)
    delivery_attempt(delivery_id=Delivery.objects.get(notification=notification, channel=Channel.INBOX).pk)
    notification.refresh_from_db()
    return notification
