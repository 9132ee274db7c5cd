"""The access-administration journey in Chromium: invite → set password and enrol TOTP → record
training → the user passes the trained-user gate → deactivate → their open session ends."""

import base64
import re

import pytest
from django.core import mail
from django.urls import reverse
from django_otp.oath import totp
from playwright.sync_api import expect

from accounts.models import Role, User
from audit.models import AuditAction, AuditEvent
from tests.browser.conftest import assert_accessible, screenshot
from tests.factories import nhs_number_for

pytestmark = pytest.mark.django_db(transaction=True)

INVITEE_EMAIL = "nia.nurse@example.nhs.uk"
INVITEE_PASSWORD = "lantern-orbit-meadow-42"
GATE_HEADING = "You cannot see child protection information yet"


def _code_from_setup_key(setup_key: str) -> str:
    """What the invitee's authenticator app shows for the key printed beside the QR code."""
    return f"{totp(base64.b32decode(setup_key.replace(' ', ''))):06d}"


def _watch_csp(page) -> list[str]:
    errors = []
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    return errors


def test_org_admin_invites_trains_and_deactivates_a_clinician(
    signed_in_page, live_server, role_user, care_setting, browser, csp_violations
):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    page = signed_in_page(admin)

    # 1. The org admin invites a clinician.
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Administration").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    assert_accessible(page)
    page.get_by_role("link", name="Invite a user").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invite a user to")
    page.get_by_role("button", name="Send invitation").click()
    expect(page).to_have_title(re.compile("^Error: "))
    expect(page.get_by_role("alert")).to_contain_text("Select at least one role")
    assert_accessible(page)
    screenshot(page, "admin-invite-errors")
    page.get_by_label("Full name").fill("Nia Nurse")
    page.get_by_label("Email address").fill(INVITEE_EMAIL)
    page.get_by_label("Clinician", exact=True).check()
    assert_accessible(page)
    screenshot(page, "admin-invite")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"We have sent an invitation to {INVITEE_EMAIL}")).to_be_visible()
    expect(page.get_by_test_id("invitations-table")).to_contain_text(INVITEE_EMAIL)
    assert_accessible(page)
    screenshot(page, "admin-users")

    assert len(mail.outbox) == 1
    link = re.search(r"(/invitation/\S+/)", mail.outbox[0].body).group(1)

    # 2. The invitee, in their own browser, sets a password and enrols TOTP.
    invitee_context = browser.new_context()
    invitee = invitee_context.new_page()
    invitee_csp = _watch_csp(invitee)
    invitee.goto(live_server.url + link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Set up your CP-IS account")
    assert_accessible(invitee)
    screenshot(invitee, "invitation-accept")
    invitee.get_by_label("Create a password").fill(INVITEE_PASSWORD)
    invitee.get_by_label("Type the password again").fill(INVITEE_PASSWORD)
    invitee.get_by_role("button", name="Continue").click()

    expect(invitee.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    assert_accessible(invitee)
    screenshot(invitee, "invitation-enrol")
    setup_key = invitee.get_by_test_id("totp-secret").inner_text()
    invitee.get_by_label("Security code").fill(_code_from_setup_key(setup_key))
    invitee.get_by_role("button", name="Confirm and sign in").click()
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Save your backup codes")
    invitee.get_by_role("button", name="I have saved my backup codes").click()
    # Signed in and enrolled, but no training yet: the gate says so and who to ask.
    expect(invitee.get_by_role("heading", name=GATE_HEADING)).to_be_visible()
    expect(invitee.get_by_test_id("gate-missing")).to_contain_text("There is no record of your CP-IS training.")
    expect(invitee.get_by_text(admin.email)).to_be_visible()
    assert_accessible(invitee)
    screenshot(invitee, "invitee-home-untrained")

    # 3. The admin records the clinician's training.
    page.reload()
    expect(page.get_by_test_id("users-table")).to_contain_text("No record")
    page.get_by_role("link", name="Nia Nurse").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nia Nurse")
    assert_accessible(page)
    page.get_by_role("link", name="Record training").click()
    page.get_by_label("Day").fill("3")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("2099")
    page.get_by_role("button", name="Record training").click()
    expect(page.get_by_role("alert")).to_contain_text("The date completed must be today or in the past")
    assert_accessible(page)
    screenshot(page, "admin-training-errors")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Record training").click()
    expect(page.get_by_text("Training recorded for Nia Nurse")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "admin-user-detail")

    # 4. The clinician now passes the trained-user gate.
    invitee.reload()
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Child Protection – Information Sharing")
    expect(invitee.get_by_role("heading", name=GATE_HEADING)).to_have_count(0)
    screenshot(invitee, "invitee-home-trained")
    invitee.goto(live_server.url + reverse("attendances:check"))
    expect(invitee.get_by_test_id("gate-missing")).to_have_count(0)
    assert_accessible(invitee)
    screenshot(invitee, "invitee-check")
    # A check goes through (whatever the answer, every check is audited against the child).
    child = nhs_number_for(424242)
    invitee.get_by_label("NHS number").fill(child)
    with invitee.expect_navigation():
        invitee.get_by_role("button", name="Check", exact=True).click()
    expect(invitee.get_by_test_id("gate-missing")).to_have_count(0)
    screenshot(invitee, "invitee-checked")
    assert AuditEvent.objects.filter(user__email=INVITEE_EMAIL, nhs_number=child).exists()

    # 5. The admin deactivates the clinician; their open session ends at once.
    page.get_by_role("link", name="Deactivate account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deactivate Nia Nurse")
    assert_accessible(page)
    screenshot(page, "admin-deactivate")
    page.get_by_role("button", name="Deactivate account").click()
    expect(page.get_by_text("Nia Nurse has been deactivated and signed out.")).to_be_visible()
    invitee.reload()
    expect(invitee).to_have_url(re.compile(r"/login/"))
    expect(invitee.get_by_role("heading", level=1)).to_contain_text("Sign in")
    screenshot(invitee, "invitee-signed-out")

    user = User.objects.get(email=INVITEE_EMAIL)
    assert not user.is_active
    done = set(AuditEvent.objects.filter(user=admin).values_list("action", flat=True))
    assert {AuditAction.INVITATION_SENT, AuditAction.TRAINING_RECORDED, AuditAction.USER_DEACTIVATED} <= done
    assert not csp_violations and not invitee_csp
    invitee_context.close()


def test_national_admin_imports_organisations_and_searches_the_audit_log(
    signed_in_page, live_server, role_user, csp_violations, tmp_path
):
    national = role_user(Role.NATIONAL_ADMIN)
    page = signed_in_page(national)
    csv_file = tmp_path / "organisations.csv"
    csv_file.write_text(
        "ods_code,name,kind,setting_type,emergency_duty_phone\n"
        "RNEW1,Newtown Urgent Treatment Centre,care_setting,UTC,\n"
        "LANEW,Newtown Council,local_authority,,\n"
    )
    page.goto(live_server.url + reverse("administration:organisation_import"))
    assert_accessible(page)
    # The NHS.UK file upload puts a labelled button in front of the real input.
    page.locator("input[type=file][name=file]").set_input_files(str(csv_file))
    page.get_by_role("button", name="Check file").click()
    expect(page.get_by_test_id("file-code")).to_have_text("CPF03: Some rows rejected")
    expect(page.get_by_test_id("import-report")).to_contain_text("emergency-duty")
    assert_accessible(page)
    screenshot(page, "national-import-preview")
    page.get_by_role("button", name="Confirm import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisations imported")

    page.goto(live_server.url + reverse("administration:organisations"))
    page.get_by_role("link", name="Newtown Urgent Treatment Centre", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Newtown Urgent Treatment Centre")
    assert_accessible(page)
    screenshot(page, "national-organisation")

    page.goto(live_server.url + reverse("audit:events"))
    page.get_by_label("Action").select_option(AuditAction.ORGANISATION_CREATED)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("audit-table")).to_contain_text("Organisation created")
    # No count at national scale: the heading says it is a search's results, newest first.
    expect(page.get_by_role("heading", level=2, name="Events found, newest first")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "audit-viewer")
    assert not csp_violations
