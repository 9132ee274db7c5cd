"""The access review: one page per organisation with users, roles, last sign-in, 2FA and training,
exported as formula-neutralised CSV."""

import csv
import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccessReview, Membership, Role, TrainingRecord, User
from administration.services import access_review_record
from audit.models import AuditAction, AuditEvent
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


def review_url(organisation, csv_=False):
    name = "administration:access_review_csv" if csv_ else "administration:access_review"
    return reverse(name, kwargs={"organisation_id": organisation.pk})


def read_csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_review_lists_roles_last_login_2fa_and_training(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    lapsed = role_user(Role.CLINICIAN, care_setting, trained=False, enrolled=False)
    TrainingRecord.objects.create(
        user=lapsed, course="Old", completed_on=dt.date(2024, 1, 1), expires_on=dt.date(2025, 1, 1)
    )
    User.objects.filter(pk=lapsed.pk).update(last_login=timezone.now() - dt.timedelta(days=3))
    rows = {r["email"]: r for r in read_csv(client_for(admin).get(review_url(care_setting, csv_=True)))}
    assert rows[lapsed.email] == {
        "name": lapsed.full_name,
        "email": lapsed.email,
        "roles": "Clinician",
        "account": "active",
        "last_sign_in": timezone.localtime(User.objects.get(pk=lapsed.pk).last_login).strftime("%Y-%m-%d %H:%M"),
        "two_factor": "not enrolled",
        "training_expires": "2025-01-01",
        "training_current": "no",
    }
    assert rows[admin.email]["two_factor"] == "enrolled" and rows[admin.email]["training_current"] == "yes"
    page = client_for(admin).get(review_url(care_setting)).content.decode()
    assert lapsed.full_name in page and "Expired" in page and "Not set up" in page


def test_review_shows_only_roles_at_that_organisation(client_for, role_user, care_setting, other_care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    shared = role_user(Role.CLINICIAN, care_setting)
    Membership.objects.create(user=shared, organisation=other_care_setting, role=Role.SAFEGUARDING_LEAD)
    outsider = role_user(Role.CLINICIAN, other_care_setting)
    rows = {r["email"]: r for r in read_csv(client_for(admin).get(review_url(care_setting, csv_=True)))}
    assert rows[shared.email]["roles"] == "Clinician"
    assert outsider.email not in rows


def test_csv_cells_are_formula_neutralised(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    evil = role_user(Role.CLINICIAN, care_setting)
    User.objects.filter(pk=evil.pk).update(full_name='=HYPERLINK("http://evil.example","click")')
    rows = {r["email"]: r for r in read_csv(client_for(admin).get(review_url(care_setting, csv_=True)))}
    assert rows[evil.email]["name"] == '\'=HYPERLINK("http://evil.example","click")'


def test_export_is_audited(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    read_csv(client_for(admin).get(review_url(care_setting, csv_=True)))
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_REVIEW_EXPORTED)
    assert event.user == admin and event.organisation == care_setting and event.detail["rows"] == 1


def test_national_admin_sees_every_organisations_review(client_for, role_user, care_setting, local_authority):
    national = role_user(Role.NATIONAL_ADMIN)
    worker = role_user(Role.SOCIAL_WORKER, local_authority)
    clinician = role_user(Role.CLINICIAN, care_setting)
    client = client_for(national)
    assert worker.email in client.get(review_url(local_authority)).content.decode()
    assert clinician.email in client.get(review_url(care_setting)).content.decode()


def test_org_admin_cannot_see_another_organisations_review(client_for, role_user, care_setting, local_authority):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    role_user(Role.SOCIAL_WORKER, local_authority)
    assert client_for(admin).get(review_url(local_authority)).status_code == 404
    assert client_for(admin).get(review_url(local_authority, csv_=True)).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REVIEW_EXPORTED).exists()


def test_review_queries_do_not_grow_with_users(client_for, role_user, care_setting, django_assert_max_num_queries):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    client = client_for(admin)
    client.get(review_url(care_setting))
    user_with_role(Role.CLINICIAN, care_setting)
    with django_assert_max_num_queries(20) as baseline:
        client.get(review_url(care_setting))
    for _ in range(15):
        user_with_role(Role.SAFEGUARDING_LEAD, care_setting)
    with django_assert_max_num_queries(len(baseline.captured_queries)):
        assert client.get(review_url(care_setting)).status_code == 200


def record_url(organisation):
    return reverse("administration:access_review_record", kwargs={"organisation_id": organisation.pk})


def test_org_admin_records_a_review_with_a_note_and_it_is_audited(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    role_user(Role.CLINICIAN, care_setting)
    client = client_for(admin)
    page = client.get(review_url(care_setting)).content.decode()
    assert "No access review has been recorded" in page and "I have reviewed who has access" in page

    response = client.post(record_url(care_setting), {"note": "Removed two leavers (Smith, Jones)"})

    assert response.status_code == 302 and response["Location"] == review_url(care_setting)
    review = AccessReview.objects.get()
    assert review.organisation == care_setting and review.reviewed_by == admin
    assert review.reviewed_by_name == admin.full_name and review.users_listed == 2
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_REVIEW_RECORDED)
    assert event.user == admin and event.organisation == care_setting
    # The note is free text that may name people: the audit keeps ids and counts only.
    assert event.detail == {"organisation_id": care_setting.pk, "access_review_id": review.pk, "users": 2}
    page = client.get(review_url(care_setting)).content.decode()
    assert f"by {admin.full_name}" in page and "Removed two leavers (Smith, Jones)" in page


def test_review_note_is_optional_and_bounded(client_for, role_user, care_setting):
    client = client_for(role_user(Role.ORG_ADMIN, care_setting))
    assert client.post(record_url(care_setting), {}).status_code == 302
    too_long = client.post(record_url(care_setting), {"note": "x" * 501})
    assert too_long.status_code == 400 and "500 characters or fewer" in too_long.content.decode()
    control = client.post(record_url(care_setting), {"note": "bad\x1bnote"})
    assert control.status_code == 400 and "control characters" in control.content.decode()
    assert AccessReview.objects.count() == 1


def test_nobody_records_a_review_for_another_organisation(client_for, role_user, care_setting, local_authority):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    assert client_for(admin).post(record_url(local_authority), {}).status_code == 404
    national = role_user(Role.NATIONAL_ADMIN)
    assert client_for(national).post(record_url(care_setting), {}).status_code == 403
    # The national admin reads the review but is offered no form to record one.
    page = client_for(national).get(review_url(care_setting)).content.decode()
    assert "I have reviewed who has access" not in page
    assert not AccessReview.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.ACCESS_REVIEW_RECORDED).exists()


def test_service_refuses_a_reviewer_who_is_not_admin_there(role_user, care_setting, local_authority):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    with pytest.raises(ValidationError):
        access_review_record(organisation=local_authority, by=admin)
    assert not AccessReview.objects.exists()


def test_review_record_refused_by_the_service_is_audited(client_for, role_user, care_setting):
    """An org admin whose role went between loading the page and posting it."""
    admin = role_user(Role.ORG_ADMIN, care_setting)
    role_user(Role.ORG_ADMIN, care_setting)
    client = client_for(admin)
    Membership.objects.filter(user=admin, role=Role.ORG_ADMIN).update(role=Role.SAFEGUARDING_LEAD)
    assert client.post(record_url(care_setting), {}).status_code == 403
    assert not AccessReview.objects.exists()


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("active", {"admin", "current", "soon", "lapsed", "no2fa"}),
        ("no_two_factor", {"no2fa"}),
        ("training_expiring", {"soon"}),
        ("nonsense", {"admin", "current", "soon", "lapsed", "no2fa", "gone"}),
    ],
)
def test_review_filters_keep_the_rows_the_dashboard_counts(client_for, role_user, care_setting, show, expected):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    people = {
        "admin": admin,
        "current": role_user(Role.CLINICIAN, care_setting),
        "soon": role_user(Role.CLINICIAN, care_setting),
        "lapsed": role_user(Role.CLINICIAN, care_setting, trained=False),
        "no2fa": role_user(Role.CLINICIAN, care_setting, enrolled=False),
        "gone": role_user(Role.CLINICIAN, care_setting, enrolled=False),
    }
    User.objects.filter(pk=people["gone"].pk).update(is_active=False)
    today = timezone.localdate()
    TrainingRecord.objects.update(expires_on=today + dt.timedelta(days=200))
    TrainingRecord.objects.filter(user=people["soon"]).update(expires_on=today + dt.timedelta(days=10))

    page = client_for(admin).get(review_url(care_setting), {"show": show}).content.decode()

    assert {key for key, user in people.items() if user.email in page} == expected
    if show != "nonsense":
        assert f"Showing {len(expected)} " in page
