"""The check journey's safety edges: logs, odd memberships, missing phones, the trim task."""

import datetime as dt
import logging
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role
from attendances.models import Visit
from attendances.tasks import visits_trim
from tests.factories import OrganisationFactory, PlanFactory, UserFactory, VisitFactory

pytestmark = pytest.mark.django_db

CHECK = reverse("attendances:check")


def test_nothing_personal_is_logged(role_user, client_for, caplog):
    plan = PlanFactory(given_names="Loggable", family_name="Childname")
    client = client_for(role_user(Role.CLINICIAN))

    with caplog.at_level(logging.DEBUG):
        client.post(CHECK, {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())})
        client.post(CHECK, {"nhs_number": "9434765919", "check_token": str(uuid.uuid4())})
        client.post(CHECK, {"nhs_number": "9434765918", "check_token": str(uuid.uuid4())})

    for secret in (plan.nhs_number, "9434765919", "9434765918", "Loggable", "Childname"):
        assert secret not in caplog.text


def test_clinician_role_at_a_local_authority_cannot_check(client_for, local_authority):
    # Roles are granted per organisation kind; if one were ever mis-granted, the service refuses.
    user = UserFactory(trained=True, enrolled=True)
    Membership.objects.create(user=user, organisation=local_authority, role=Role.CLINICIAN)
    plan = PlanFactory()

    response = client_for(user).post(CHECK, {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())})

    assert response.status_code == 403
    assert not Visit.objects.exists()


def test_la_without_office_hours_phone_points_to_emergency_duty(role_user, client_for):
    la = OrganisationFactory(local_authority=True, office_hours_phone="", emergency_duty_phone="01632 960 997")
    plan = PlanFactory(organisation=la)

    response = client_for(role_user(Role.CLINICIAN)).post(
        CHECK, {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}
    )

    text = re.sub(r"\s+", " ", response.content.decode())
    assert "Office hours: not given, use the emergency duty number" in text
    assert 'href="tel:01632960997"' in text


def test_trim_task_keeps_25_and_ignores_a_visit_already_gone(db):
    now = timezone.now()
    visits = [VisitFactory(nhs_number="9434765919", arrived_at=now - dt.timedelta(hours=h)) for h in range(28)]

    visits_trim.delay(visits[0].pk)
    visits_trim.delay(999_999_999)

    assert Visit.objects.count() == 25
    assert not Visit.objects.filter(pk__in=[v.pk for v in visits[25:]]).exists()


def test_broker_down_after_commit_still_shows_the_alert_and_keeps_the_visit(
    role_user, client_for, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(visits_trim, "apply_async", broker_down)
    plan = PlanFactory()
    VisitFactory.create_batch(25, nhs_number=plan.nhs_number)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(role_user(Role.CLINICIAN)).post(
            CHECK, {"nhs_number": plan.nhs_number, "check_token": str(uuid.uuid4())}
        )

    assert len([c for c in callbacks if "visits_trim" in repr(c)]) == 1
    assert response.status_code == 200
    assert "Child Protection Plan" in response.content.decode()
    # Untrimmed until the next check, but recorded, and the page still shows only 25.
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 26
    assert response.content.decode().count("nhsuk-table__row") == 1 + 25
