"""The signed-in state kept per session and version (accounts/signed_in.py): each change it is
made of takes effect on the very next request, whatever the worker kept."""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Role, SignedInVersion, TrainingRecord, UserSession
from accounts.services import training_record, user_deactivate
from accounts.signed_in import kept_for, memberships_copied, signed_in_version_bump
from administration.services.users import role_remove, two_factor_reset
from tests.factories import OrganisationFactory

# On SQLite too: the version bump is one statement both databases take, as the demo runs it.
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite, pytest.mark.urls("tests.accounts.gate_urls")]

CHILD_DATA = "/test/child-data/"


@pytest.fixture
def clinician(role_user, client_for):
    """A clinician whose session has been served once, so its state is kept in this process."""
    user = role_user("clinician")
    client = client_for(user)
    assert client.get(CHILD_DATA).status_code == 200
    return user, client


def _queries_before_the_view(client, path=CHILD_DATA) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return [q["sql"] for q in queries.captured_queries]


def test_a_kept_session_reads_its_state_in_one_query(clinician):
    _, client = clinician
    queries = _queries_before_the_view(client)
    assert len(queries) == 1, queries
    assert "accounts_usersession" in queries[0] and "accounts_user" in queries[0]
    assert "accounts_signedinversion" in queries[0]


def test_a_removed_role_is_refused_on_the_next_request(clinician, role_user, care_setting):
    user, client = clinician
    admin = role_user("org_admin", care_setting)
    role_remove(membership=Membership.objects.get(user=user, role=Role.CLINICIAN), by=admin)
    assert client.get(CHILD_DATA).status_code == 403


def test_a_role_removed_by_deleting_the_row_is_refused_on_the_next_request(clinician):
    user, client = clinician
    Membership.objects.filter(user=user).delete()
    assert client.get(CHILD_DATA).status_code == 403


def test_revoked_training_blocks_on_the_next_request(clinician):
    user, client = clinician
    TrainingRecord.objects.filter(user=user).delete()
    response = client.get(CHILD_DATA)
    assert response.status_code == 403
    assert "There is no record of your CP-IS training." in response.content.decode()


def test_training_shortened_blocks_on_the_next_request(clinician):
    user, client = clinician
    record = TrainingRecord.objects.get(user=user)
    record.completed_on = timezone.localdate() - dt.timedelta(days=800)
    record.expires_on = timezone.localdate() - dt.timedelta(days=1)
    record.save()
    assert client.get(CHILD_DATA).status_code == 403


def test_training_expiring_today_blocks_from_tomorrow(role_user, client_for):
    today = timezone.localdate()
    midnight = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()))
    with time_machine.travel(midnight - dt.timedelta(minutes=2), tick=False):
        user = role_user("clinician")
        record = TrainingRecord.objects.get(user=user)
        record.expires_on = today
        record.save()
        client = client_for(user)
        assert client.get(CHILD_DATA).status_code == 200
    with time_machine.travel(midnight + dt.timedelta(minutes=1), tick=False):
        response = client.get(CHILD_DATA)
    assert response.status_code == 403
    assert "Your CP-IS training expired on" in response.content.decode()


def test_new_training_lets_the_user_in_on_the_next_request(role_user, client_for):
    user = role_user("clinician", trained=False)
    client = client_for(user)
    assert client.get(CHILD_DATA).status_code == 403
    training_record(user=user, course="CP-IS", completed_on=timezone.localdate(), by=None)
    assert client.get(CHILD_DATA).status_code == 200


def test_a_two_factor_reset_is_seen_on_the_next_request(clinician, role_user, care_setting):
    user, client = clinician
    two_factor_reset(user=user, organisation=care_setting, by=role_user("org_admin", care_setting))
    assert client.get(CHILD_DATA).status_code == 302  # its sessions are ended too


def test_a_deleted_device_unverifies_the_session_on_the_next_request(clinician):
    user, client = clinician
    TOTPDevice.objects.filter(user=user).delete()
    response = client.get(CHILD_DATA)
    assert response.status_code == 403
    assert "You have not used two-factor authentication at this sign-in." in response.content.decode()


def test_an_unconfirmed_device_unverifies_the_session_on_the_next_request(clinician):
    user, client = clinician
    device = TOTPDevice.objects.get(user=user)
    device.confirmed = False
    device.save()
    assert client.get(CHILD_DATA).status_code == 403


def test_a_deactivated_user_is_signed_out_on_the_next_request(clinician):
    user, client = clinician
    user_deactivate(user=user, by=None)
    response = client.get(CHILD_DATA)
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_a_user_made_inactive_without_ending_sessions_is_signed_out_on_the_next_request(clinician):
    user, client = clinician
    user.is_active = False
    user.save()
    response = client.get(CHILD_DATA)
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_a_changed_password_ends_other_sessions_on_the_next_request(clinician):
    user, client = clinician
    user.set_password("a new password that is long enough")
    user.save()
    response = client.get(CHILD_DATA)
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_a_rotated_session_key_leaves_the_old_one_signed_out(clinician, client):
    _, signed_in_client = clinician
    old_key = signed_in_client.cookies[settings.SESSION_COOKIE_NAME].value
    session = signed_in_client.session
    session.cycle_key()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert client.get(CHILD_DATA).status_code == 302


def test_a_deactivated_organisation_takes_the_roles_there_on_the_next_request(clinician, care_setting):
    _, client = clinician
    care_setting.is_active = False
    care_setting.save()
    assert client.get(CHILD_DATA).status_code == 403


def test_a_renamed_organisation_shows_in_the_header_on_the_next_request(clinician, care_setting):
    _, client = clinician
    assert care_setting.name in client.get(reverse("accounts:home")).content.decode()
    care_setting.name = "Renamed Hospital Emergency Department"
    care_setting.save()
    assert "Renamed Hospital Emergency Department" in client.get(reverse("accounts:home")).content.decode()


def test_a_role_granted_shows_its_links_on_the_next_request(clinician, care_setting, client_for):
    user, client = clinician
    assert reverse("audit:events") not in client.get(reverse("accounts:home")).content.decode()
    Membership.objects.create(user=user, organisation=care_setting, role=Role.ORG_ADMIN)
    assert reverse("audit:events") in client.get(reverse("accounts:home")).content.decode()


def test_every_change_bumps_the_version_in_its_own_transaction(role_user, care_setting):
    user = role_user("clinician")

    def version():
        row = SignedInVersion.objects.filter(user_id=user.pk).first()
        return row.version if row else 0

    steps = [
        lambda: user.save(),
        lambda: TrainingRecord.objects.filter(user=user).first().save(),
        lambda: TOTPDevice.objects.filter(user=user).first().save(),
        lambda: Membership.objects.create(user=user, organisation=care_setting, role=Role.SAFEGUARDING_LEAD),
        lambda: Membership.objects.filter(user=user, role=Role.SAFEGUARDING_LEAD).delete(),
        lambda: care_setting.save(),
        lambda: signed_in_version_bump(user_id=user.pk),
    ]
    for step in steps:
        before = version()
        step()
        assert version() > before


def test_an_organisation_change_bumps_only_its_members(role_user, care_setting):
    member, elsewhere = role_user("clinician"), role_user("clinician", OrganisationFactory())
    before = {v.user_id: v.version for v in SignedInVersion.objects.all()}
    care_setting.save()
    after = {v.user_id: v.version for v in SignedInVersion.objects.all()}
    assert after[member.pk] == before.get(member.pk, 0) + 1
    assert after.get(elsewhere.pk) == before.get(elsewhere.pk)


def test_each_request_gets_its_own_copies(role_user):
    user = role_user("clinician")
    user.signed_in_key = ("a session", 0)
    reads = []

    def read():
        reads.append(1)
        return list(Membership.objects.filter(user=user).select_related("organisation"))

    first = kept_for(user, "memberships-test", "today", read, memberships_copied)
    first[0].organisation.name = "changed by one request"
    second = kept_for(user, "memberships-test", "today", read, memberships_copied)
    assert len(reads) == 1
    assert second[0].organisation.name != "changed by one request"
    assert second[0] is not first[0] and second[0].organisation is not first[0].organisation


def test_a_user_not_read_with_a_session_is_never_kept(role_user):
    user = role_user("clinician")
    reads = []
    for _ in range(2):
        kept_for(user, "memberships-test", "today", lambda: reads.append(1) or [], memberships_copied)
    assert len(reads) == 2


def test_the_user_read_with_the_session_counts_only_if_the_session_names_them(clinician, role_user):
    user, client = clinician
    other = role_user("clinician")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    # The column and the session's own data disagreeing: the data (what Django signs in by) wins.
    UserSession.objects.filter(session_key=key).update(user_id=other.pk)
    page = client.get(reverse("accounts:account")).content.decode()
    assert user.full_name in page and other.full_name not in page


def test_a_session_signed_in_before_the_session_user_backend_stays_signed_in(role_user, client):
    user = role_user("clinician")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["login_time"] = session["last_activity"] = int(timezone.now().timestamp())
    session.save()
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 200 and user.full_name in response.content.decode()


_BULK = re.compile(
    r"\b(?:(?:Membership|TrainingRecord|TOTPDevice|Organisation|User)\.objects|memberships|training_records)\b"
    r"[\w.()=,'\" ]*\.(?:update|bulk_create|bulk_update)\("
)


def test_no_bulk_write_bypasses_the_version_bump():
    """A QuerySet's update() and bulk_create() send no signal, so they would leave a kept
    state stale: none may touch the tables it is read from, outside accounts/signed_in.py
    (which bumps by hand). Migrations and the demo's loader run with no one signed in."""
    root = Path(settings.BASE_DIR)
    offenders = []
    for path in root.glob("*/**/*.py"):
        relative = path.relative_to(root).as_posix()
        if relative.split("/")[0] in {"tests", "bench", "node_modules", "demo"} or "/migrations/" in relative:
            continue
        if relative.startswith(".") or relative == "accounts/signed_in.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _BULK.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == []
