"""Invitations: an org admin invites by e-mail; the link is single-use and expires, and leads to
setting a password and then the same two-factor enrolment step as the sign-in journey."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Invitation, Membership, Role, User
from audit.models import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "lantern-orbit-meadow-42"


@pytest.fixture
def setting_admin(role_user, care_setting):
    return role_user(Role.ORG_ADMIN, care_setting)


def invite(client, *, email="new.nurse@example.nhs.uk", roles=(Role.CLINICIAN,), full_name="Nia Nurse"):
    return client.post(reverse("administration:invite"), {"full_name": full_name, "email": email, "roles": roles})


def link_from_outbox() -> str:
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    match = re.search(r"https?://\S+/invitation/(\S+)/", mail.outbox[0].body)
    assert match, mail.outbox[0].body
    return reverse("administration:invitation_accept", kwargs={"token": match.group(1)})


def accept(client, link, *, password=NEW_PASSWORD, again=None, full_name="Nia Nurse"):
    return client.post(link, {"full_name": full_name, "password": password, "password_again": again or password})


def test_invitation_is_emailed_and_stored_hashed_and_audited(
    client_for, setting_admin, care_setting, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(client_for(setting_admin))
    assert response.status_code == 302 and response.url == reverse("administration:users")
    link = link_from_outbox()
    token = link.rstrip("/").rsplit("/", 1)[-1]
    invitation = Invitation.objects.get()
    assert invitation.organisation == care_setting and invitation.roles == [Role.CLINICIAN]
    # Only a hash is stored: the database alone cannot accept the invitation.
    assert token not in invitation.token_hash and len(invitation.token_hash) == 64
    assert invitation.expires_at - invitation.created_at == timedelta(hours=72)
    event = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT)
    assert event.user == setting_admin and event.organisation == care_setting
    assert event.detail == {"invitation_id": invitation.pk, "roles": [Role.CLINICIAN]}
    # The e-mail names the organisation and nothing about any child.
    assert care_setting.name in mail.outbox[0].body and mail.outbox[0].to == ["new.nurse@example.nhs.uk"]


def test_invitee_sets_password_then_enrols_totp_and_gets_the_roles(
    client_for, setting_admin, care_setting, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    invitee = Client()
    page = invitee.get(link)
    assert page.status_code == 200 and "new.nurse@example.nhs.uk" in page.content.decode()

    response = accept(invitee, link)
    assert response.status_code == 302 and response.url == reverse("accounts:login_enrol")
    user = User.objects.get(email="new.nurse@example.nhs.uk")
    assert user.check_password(NEW_PASSWORD) and user.full_name == "Nia Nurse"
    assert list(Membership.objects.filter(user=user).values_list("organisation", "role")) == [
        (care_setting.pk, Role.CLINICIAN)
    ]
    # Not signed in until the second factor is enrolled.
    assert invitee.get(reverse("accounts:home")).status_code == 302

    assert invitee.get(reverse("accounts:login_enrol")).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    code = f"{totp(bytes.fromhex(device.key)):06d}"
    response = invitee.post(reverse("accounts:login_enrol"), {"code": code})
    assert response.status_code == 302 and response.url == reverse("accounts:backup_codes")
    assert invitee.get(reverse("accounts:home")).status_code == 200
    assert Invitation.objects.get().accepted_user == user
    actions = set(AuditEvent.objects.filter(user=user).values_list("action", flat=True))
    assert {AuditAction.INVITATION_ACCEPTED, AuditAction.OTP_ENROLLED, AuditAction.LOGIN} <= actions


def test_reused_invitation_link_is_refused(client_for, setting_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    accept(Client(), link)

    second = Client()
    page = second.get(link)
    assert page.status_code == 410
    assert "already been used" in page.content.decode()
    # A POST with the used link creates nothing either.
    assert accept(second, link, full_name="Someone Else").status_code == 410
    assert User.objects.filter(email="new.nurse@example.nhs.uk").count() == 1
    refused = AuditEvent.objects.filter(action=AuditAction.INVITATION_REFUSED)
    assert refused.count() == 2 and {e.outcome for e in refused} == {AuditOutcome.DENIED}


def test_expired_invitation_link_is_refused(client_for, setting_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    with time_machine.travel(timezone.now() + timedelta(hours=72, seconds=1)):
        response = Client().get(link)
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert accept(Client(), link).status_code == 410
    assert not User.objects.filter(email="new.nurse@example.nhs.uk").exists()
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_REFUSED, detail__reason="expired").exists()


def test_link_still_works_just_before_expiry(client_for, setting_admin, django_capture_on_commit_callbacks, settings):
    settings.INVITATION_VALID_HOURS = 1
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    with time_machine.travel(timezone.now() + timedelta(minutes=59)):
        assert accept(Client(), link).status_code == 302


def test_unknown_token_is_not_found(client):
    assert client.get(reverse("administration:invitation_accept", kwargs={"token": "made-up-token"})).status_code == 404


def test_inviting_an_existing_user_is_refused(client_for, setting_admin, role_user, other_care_setting):
    existing = role_user(Role.CLINICIAN, other_care_setting)
    response = invite(client_for(setting_admin), email=existing.email.upper())
    assert response.status_code == 400
    assert "already has a CP-IS account" in response.content.decode()
    assert not Invitation.objects.exists()
    assert not mail.outbox


def test_org_admin_cannot_invite_with_national_admin_role(client_for, setting_admin):
    response = invite(client_for(setting_admin), roles=[Role.NATIONAL_ADMIN])
    assert response.status_code == 400
    assert "You cannot grant that role here" in response.content.decode()
    assert not Invitation.objects.exists()
    attempt = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT)
    assert attempt.outcome == AuditOutcome.DENIED and attempt.detail == {
        "reason": "role_not_grantable",
        "roles": [Role.NATIONAL_ADMIN],
    }


def test_national_org_admin_cannot_invite_a_national_admin(client_for, role_user, national):
    # national_admin is a real role at a national organisation, and still never grantable here.
    admin = role_user(Role.ORG_ADMIN, national)
    response = invite(client_for(admin), roles=[Role.NATIONAL_ADMIN])
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_role_of_another_kind_of_organisation_is_refused(client_for, setting_admin):
    response = invite(client_for(setting_admin), roles=[Role.SOCIAL_WORKER])
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_inviting_again_replaces_the_earlier_link(client_for, setting_admin, django_capture_on_commit_callbacks):
    client = client_for(setting_admin)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client)
    first_link = link_from_outbox()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, roles=[Role.SAFEGUARDING_LEAD])
    second_link = link_from_outbox()
    assert Client().get(first_link).status_code == 410
    assert accept(Client(), second_link).status_code == 302
    user = User.objects.get(email="new.nurse@example.nhs.uk")
    assert list(user.memberships.values_list("role", flat=True)) == [Role.SAFEGUARDING_LEAD]


def test_cancelled_invitation_cannot_be_used(client_for, setting_admin, django_capture_on_commit_callbacks):
    client = client_for(setting_admin)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client)
    link = link_from_outbox()
    invitation = Invitation.objects.get()
    response = client.post(reverse("administration:invitation_cancel", kwargs={"invitation_id": invitation.pk}))
    assert response.status_code == 302
    assert Client().get(link).status_code == 410
    assert AuditEvent.objects.filter(action=AuditAction.INVITATION_CANCELLED, user=setting_admin).exists()


def test_weak_or_mismatched_password_is_refused(client_for, setting_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    invitee = Client()
    short = accept(invitee, link, password="short")
    assert short.status_code == 400 and "too short" in short.content.decode()
    mismatch = accept(invitee, link, again="lantern-orbit-meadow-43")
    assert mismatch.status_code == 400 and "do not match" in mismatch.content.decode()
    assert not User.objects.filter(email="new.nurse@example.nhs.uk").exists()
    # The link is still usable after a mistake on the form.
    assert accept(invitee, link).status_code == 302


def test_account_created_elsewhere_meanwhile_stops_the_acceptance(
    client_for, setting_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(setting_admin))
    link = link_from_outbox()
    User.objects.create_user("new.nurse@example.nhs.uk", "x" * 20, full_name="Already There")
    response = accept(Client(), link)
    assert response.status_code == 400
    assert "already has a CP-IS account" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_signed_in_user_is_asked_to_log_out_first(client_for, role_user, setting_admin):
    from core.tokens import token_hash

    Invitation.objects.create(
        organisation=setting_admin.memberships.get().organisation,
        email="someone@example.nhs.uk",
        full_name="Someone",
        roles=[Role.CLINICIAN],
        token_hash=token_hash("abc"),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    clinician = role_user(Role.CLINICIAN)
    page = client_for(clinician).get(reverse("administration:invitation_accept", kwargs={"token": "abc"}))
    assert "log out first" in page.content.decode()
    assert Invitation.objects.get().accepted_at is None


def test_the_same_link_accepted_twice_creates_one_account(setting_admin, care_setting):
    # Two tabs or a double-submitted form: the invitation row is locked and used up by the first.
    from administration.services import InvitationUnusable, invitation_accept
    from core.tokens import token_hash

    Invitation.objects.create(
        organisation=care_setting,
        email="twice@example.nhs.uk",
        full_name="Twice",
        roles=[Role.CLINICIAN],
        token_hash=token_hash("tok"),
        created_by=setting_admin,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    invitation_accept(token="tok", full_name="Twice", password=NEW_PASSWORD)
    with pytest.raises(InvitationUnusable) as refused:
        invitation_accept(token="tok", full_name="Twice", password=NEW_PASSWORD)
    assert refused.value.reason == "used"
    assert User.objects.filter(email="twice@example.nhs.uk").count() == 1


class BrokenEmailBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server down")


@pytest.mark.django_db(transaction=True)
def test_email_failure_cancels_the_invitation_and_tells_the_admin(client_for, role_user, care_setting, settings):
    # Real commits, as in production: the e-mail goes when invitation_create's transaction ends,
    # before the view answers, so the admin hears about the failure on the same page.
    setting_admin = role_user(Role.ORG_ADMIN, care_setting)
    settings.EMAIL_BACKEND = "tests.administration.test_invitations.BrokenEmailBackend"
    response = invite(client_for(setting_admin))
    assert response.status_code == 503
    assert "could not send the invitation email" in response.content.decode()
    # Nobody holds the link, so it must not linger as a pending invitation.
    assert not Invitation.objects.pending().exists()
    failure = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT, outcome=AuditOutcome.FAILURE)
    assert failure.detail["reason"] == "email_failed" and failure.user == setting_admin
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert invite(client_for(setting_admin)).status_code == 302
    assert len(mail.outbox) == 1


def test_resending_an_expired_invitation_sends_a_working_link_and_retires_the_old(
    client_for, setting_admin, django_capture_on_commit_callbacks
):
    client = client_for(setting_admin)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, roles=[Role.SAFEGUARDING_LEAD])
    first_link = link_from_outbox()
    first = Invitation.objects.get()
    mail.outbox.clear()
    users_page = client.get(reverse("administration:users")).content.decode()
    assert reverse("administration:invitation_resend", kwargs={"invitation_id": first.pk}) in users_page

    Invitation.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("administration:invitation_resend", kwargs={"invitation_id": first.pk}))
    assert response.status_code == 302 and response.url == reverse("administration:users")
    second_link = link_from_outbox()
    assert Client().get(first_link).status_code == 410
    assert accept(Client(), second_link).status_code == 302
    user = User.objects.get(email="new.nurse@example.nhs.uk")
    assert list(user.memberships.values_list("role", flat=True)) == [Role.SAFEGUARDING_LEAD]
