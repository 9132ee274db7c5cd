"""The confirmation panels at the end of the big transactions (issue 32): an upload applied, an
account set up, an access review recorded. Each shows once, on the page the transaction leads
to, and never otherwise: not on a reload, not to someone else, not after a refusal."""

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role
from plans.models import PlanUpload, UploadStatus
from plans.uploads.steps import plan_upload_apply
from tests.accounts.test_login import current_code, password_step
from tests.plans.helpers import csv_bytes, row

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

PANEL = 'data-testid="confirmation-panel"'


def _panel(page: str) -> str:
    """The panel's text, or "" if the page has none."""
    found = re.search(rf'<div class="nhsuk-panel"[^>]*{PANEL}[^>]*>(.*?)</div>\s*</div>', page, re.S)
    if not found:
        return ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", " ", found[1]))).strip()


# An upload applied.


def _preview(client, content: bytes, capture) -> PlanUpload:
    with capture(execute=True):
        client.post("/plans/uploads/", {"file": SimpleUploadedFile("plans.csv", content)})
    return PlanUpload.objects.order_by("-id").first()


def test_the_upload_panel_shows_once_when_the_confirmed_file_is_applied(
    role_user, client_for, local_authority, django_capture_on_commit_callbacks
):
    manager = client_for(role_user(Role.PLAN_MANAGER, local_authority))
    upload = _preview(
        manager, csv_bytes([row(1), row(2), row(3, nhs_number="123")]), django_capture_on_commit_callbacks
    )
    preview = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert PANEL not in preview

    # Confirmed, but the worker has not applied it yet: the progress bar, no panel yet.
    with django_capture_on_commit_callbacks(execute=False):
        assert manager.post(f"/plans/uploads/{upload.pk}/confirm/").status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.QUEUED
    waiting = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert PANEL not in waiting and "<progress" in waiting

    plan_upload_apply(upload_id=upload.pk)
    applied = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert _panel(applied).startswith("File applied 2 plans added, 1 row needs correcting.")
    assert applied.count("<h1") == 1 and applied.index("<h1") < applied.index(PANEL)
    # Once: a reload, or a colleague opening the same upload, shows the acknowledgement only.
    assert PANEL not in manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    colleague = client_for(role_user(Role.PLAN_MANAGER, local_authority))
    assert PANEL not in colleague.get(f"/plans/uploads/{upload.pk}/").content.decode()


def test_no_upload_panel_for_an_upload_not_confirmed_here(
    role_user, client_for, local_authority, django_capture_on_commit_callbacks
):
    manager = client_for(role_user(Role.PLAN_MANAGER, local_authority))
    first = _preview(manager, csv_bytes([row(1)]), django_capture_on_commit_callbacks)
    second = _preview(manager, csv_bytes([row(2)]), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        manager.post(f"/plans/uploads/{second.pk}/confirm/")
    # The first, confirmed elsewhere (a MESH file, another manager): applied, no panel.
    with django_capture_on_commit_callbacks(execute=True):
        client_for(role_user(Role.PLAN_MANAGER, local_authority)).post(f"/plans/uploads/{first.pk}/confirm/")
    assert PANEL not in manager.get(f"/plans/uploads/{first.pk}/").content.decode()
    # The mark for the second is still there for the second.
    assert _panel(manager.get(f"/plans/uploads/{second.pk}/").content.decode()).startswith("File applied")
    # A cancelled preview: no panel.
    third = _preview(manager, csv_bytes([row(3)]), django_capture_on_commit_callbacks)
    manager.post(f"/plans/uploads/{third.pk}/cancel/")
    assert PANEL not in manager.get(f"/plans/uploads/{third.pk}/").content.decode()


def test_no_upload_panel_when_a_confirmed_file_is_refused(
    role_user, client_for, local_authority, django_capture_on_commit_callbacks, monkeypatch
):
    manager = client_for(role_user(Role.PLAN_MANAGER, local_authority))
    upload = _preview(manager, csv_bytes([row(1)]), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        manager.post(f"/plans/uploads/{upload.pk}/confirm/")
    PlanUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.REFUSED, file_code="CPF04")
    page = manager.get(f"/plans/uploads/{upload.pk}/").content.decode()
    assert PANEL not in page and "The file was not applied" in page


# An account set up.


def _enrol(client, user) -> str:
    password_step(client, user)
    client.get(reverse("accounts:login_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:login_enrol"), {"code": current_code(device.key)})
    assert response.url == reverse("accounts:backup_codes")
    return client.get(reverse("accounts:backup_codes")).content.decode()


def test_the_set_up_panel_ends_a_new_users_onboarding_once(client, role_user):
    user = role_user(Role.CLINICIAN, enrolled=False)
    assert user.last_login is None
    codes_page = _enrol(client, user)
    # The last step leads home, where it says the account is ready.
    assert f'href="{reverse("accounts:home")}"' in codes_page and PANEL not in codes_page
    home = client.get(reverse("accounts:home")).content.decode()
    assert _panel(home).startswith("Your account is set up Next time, sign in with your password")
    assert PANEL not in client.get(reverse("accounts:home")).content.decode()


def test_setting_up_two_factor_again_says_so_and_a_plain_sign_in_shows_no_panel(client, role_user):
    user = role_user(Role.CLINICIAN, enrolled=False)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    _enrol(client, user)
    assert _panel(client.get(reverse("accounts:home")).content.decode()).startswith(
        "Two-factor authentication is set up again"
    )
    client.post(reverse("accounts:logout"))
    password_step(client, user)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    assert (
        client.post(reverse("accounts:login_verify"), {"code": current_code(device.key, offset=1)}).status_code == 302
    )
    assert PANEL not in client.get(reverse("accounts:home")).content.decode()


def test_new_backup_codes_show_no_set_up_panel(client_for, role_user):
    user = role_user(Role.CLINICIAN)
    client = client_for(user)
    response = client.post(reverse("accounts:backup_codes_new"), {"code": current_code()})
    assert response.url == reverse("accounts:backup_codes")
    client.get(reverse("accounts:backup_codes"))
    assert PANEL not in client.get(reverse("accounts:home")).content.decode()


# An access review recorded.


def test_the_review_panel_shows_once_after_recording_with_the_next_due_date(
    client_for, role_user, care_setting, national
):
    admin = client_for(role_user(Role.ORG_ADMIN, care_setting))
    page_url = reverse("administration:access_review", args=[care_setting.pk])
    record_url = reverse("administration:access_review_record", args=[care_setting.pk])
    assert PANEL not in admin.get(page_url).content.decode()

    response = admin.post(record_url, {"note": "Removed a leaver"})
    assert response.status_code == 302
    page = admin.get(response["Location"]).content.decode()
    due = timezone.localdate() + dt.timedelta(days=90)
    assert _panel(page) == (
        f"Access review recorded Your review of who has access to {care_setting.name} is recorded. "
        f"The next one is due by {due.day} {due:%B %Y}."
    )
    assert page.count("<h1") == 1 and page.index("<h1") < page.index(PANEL)
    assert PANEL not in admin.get(page_url).content.decode()
    # A national admin looking at the same review sees no panel.
    national_admin = client_for(role_user(Role.NATIONAL_ADMIN))
    assert PANEL not in national_admin.get(page_url).content.decode()


def test_no_review_panel_when_recording_is_refused(client_for, role_user, care_setting):
    admin = client_for(role_user(Role.ORG_ADMIN, care_setting))
    record_url = reverse("administration:access_review_record", args=[care_setting.pk])
    response = admin.post(record_url, {"note": "x" * 501})
    assert response.status_code == 400 and PANEL not in response.content.decode()
    page = admin.get(reverse("administration:access_review", args=[care_setting.pk])).content.decode()
    assert PANEL not in page
