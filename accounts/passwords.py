"""Password self-service: change, forgotten (an e-mailed single-use link), an admin-triggered
reset, and regenerating backup codes. Each is audited; none works without the second factor.

The reset link carries Django's password-reset token, which is single-use by construction (it
hashes the password and the last sign-in, both of which the reset changes) and expires after
PASSWORD_RESET_TIMEOUT. It travels in the link's path, which every log redacts
(cpis/logs.py), and the page swaps it for the session at once.
"""

import logging
import math
import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.account_emails import task_queue
from accounts.models import User, UserSession
from accounts.passkeys import passkeys_remove_all
from accounts.requests import CpisRequest
from accounts.services import BACKUP_CODE_COUNT
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, client_ip
from cpis.resilience import window_count, window_number

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeCheck:
    """What a security code proved: the device that accepted it, or why it was refused."""

    device: Device | None = None
    # "wrong" ("wrong_at_enrolment" on the set-up page), "used" (the authenticator's code of a
    # moment ago, typed again) or "wait".
    refusal: str = ""
    wait_seconds: int = 0

    @property
    def backup_code(self) -> bool:
        """Whether a backup code was accepted (each is good once, and its use is audited)."""
        return isinstance(self.device, StaticDevice)

    @property
    def message(self) -> str:
        if self.refusal == "used":
            return "You have already used this security code. Wait for your authenticator app to show a new code."
        if self.refusal == "wait":
            return (
                "You have entered a wrong security code too many times. "
                f"Wait {_duration(self.wait_seconds)}, then try again."
            )
        if self.refusal == "wrong_at_enrolment":
            return "The security code is not correct. Check the time on your phone and try the newest code."
        return "The security code is not correct. Enter the code your authenticator app shows now."


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _wait_seconds(device: Device, now: float) -> int:
    """How long the device must wait before it may check another code (0: it may now)."""
    failed_at = device.throttling_failure_timestamp
    if device.throttling_failure_count < settings.SECOND_FACTOR_FAILURE_LIMIT or failed_at is None:
        return 0
    return max(0, math.ceil(failed_at.timestamp() + settings.SECOND_FACTOR_COOLOFF - now))


def _used_before(device: TOTPDevice, code: str) -> bool:
    """Whether `code` is one of the device's current codes that it already accepted once."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return bool(totp.verify(int(code), device.tolerance))


def code_refused(request: CpisRequest, form, user: User, check: CodeCheck) -> None:
    """A refused code: audited with the reason, and the form says it in words to act on."""
    audit_record(
        action=AuditAction.OTP_FAILED,
        request=request,
        user=user,
        outcome=AuditOutcome.DENIED if check.refusal == "wait" else AuditOutcome.FAILURE,
        detail={"reason": check.refusal},
    )
    form.add_error("code", check.message)


@transaction.atomic
def second_factor_verify(user: User, code: str) -> CodeCheck:
    """Checks `code` against the authenticator for six digits, else against the backup codes.

    Only the device the code's shape belongs to is asked: a backup code must not use up the
    authenticator's attempts (nor the other way round). The devices are locked until commit, so
    guesses sent at once are counted one by one (`code_check` has the rest).
    """
    if len(code) == 6 and code.isdigit():
        devices: list[Device] = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
    else:
        # verify_token deletes the matched backup code, so each one works once.
        devices = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True))
    return code_check(devices, code)


def code_check(devices: list[Device], code: str) -> CodeCheck:
    """The first of `devices` that accepts `code`, or why none did.

    1. A device that refused SECOND_FACTOR_FAILURE_LIMIT codes in a row checks none until
       SECOND_FACTOR_COOLOFF has passed since the last; the page says how long. Below that
       limit a code is checked at once: django-otp's own back-off (1, 2, 4… seconds after each
       wrong code) refused the right code typed straight after a typo (issue 24 item 15). The
       break-glass admin's sign-in (django-otp's form) keeps that back-off.
    2. A refusal says why: not correct, already used (an authenticator code is good once), or wait.
    """
    now = time.time()
    waits = [_wait_seconds(device, now) for device in devices]
    usable = [device for device, wait in zip(devices, waits, strict=True) if wait == 0]
    if devices and not usable:
        return CodeCheck(refusal="wait", wait_seconds=min(waits))
    for device in usable:
        # Our limit replaces django-otp's back-off for this check (a cached property: this
        # instance only); a refusal still counts in the device's failures.
        device.throttling_enabled = False
        if device.verify_token(code):
            return CodeCheck(device=device)
    used = any(isinstance(device, TOTPDevice) and _used_before(device, code) for device in usable)
    return CodeCheck(refusal="used" if used else "wrong")


def reset_link_token(user: User) -> str:
    return f"{urlsafe_base64_encode(force_bytes(user.pk))}.{default_token_generator.make_token(user)}"


def reset_link_user(token: str) -> User | None:
    """The active user whose unexpired, unused reset token this is, else None."""
    uid, _, secret = token.partition(".")
    try:
        user_id = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, UnicodeDecodeError, OverflowError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not default_token_generator.check_token(user, secret):
        return None
    return user


def password_reset_email_send(*, user_id: int) -> None:
    """E-mails the user a fresh reset link (the worker's job, accounts.tasks), if still active."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    link = settings.SITE_URL.rstrip("/") + reverse(
        "accounts:password_reset_link", kwargs={"token": reset_link_token(user)}
    )
    body = render_to_string(
        "emails/password_reset.txt", {"link": link, "minutes": settings.PASSWORD_RESET_TIMEOUT // 60}
    )
    try:
        send_mail(subject="Reset your CP-IS password", message=body, from_email=None, recipient_list=[user.email])
    except (OSError, smtplib.SMTPException):
        # The address is personal data: the user's id only.
        logger.warning("Password reset e-mail for user %s could not be sent", user.pk, exc_info=True)


def _reset_email_queue(user_id: int | None) -> None:
    """Hands the e-mail to the worker; None queues a task that sends nothing (see below).

    With the broker down the link is not sent, and the page answers all the same: the person
    asks again.
    """
    from accounts.tasks import password_reset_email_send as task

    task_queue(task, user_id)


def _reset_limit_reached(*, email: str, address: str | None) -> str | None:
    """Counts one forgotten-password request; the limit it went over ("email", "client") or None.

    Per address typed, so nobody floods one person's mailbox, and per client address, so
    nobody sprays every address. The typed address is kept as a keyed hash: Redis holds no
    e-mail address. Redis down: no limit (cpis/resilience.py fails open).
    """
    window = settings.PASSWORD_RESET_LIMIT_WINDOW
    number = window_number(window)
    typed = salted_hmac("cpis.password-reset-limit", email.strip().lower()).hexdigest()
    per_email = window_count(f"password-reset:email:{typed}:{number}", timeout=2 * window)
    per_client = window_count(f"password-reset:client:{address or 'unknown'}:{number}", timeout=2 * window)
    if per_email is not None and per_email > settings.PASSWORD_RESET_EMAIL_LIMIT:
        return "email"
    if per_client is not None and per_client > settings.PASSWORD_RESET_CLIENT_LIMIT:
        return "client"
    return None


def password_reset_request(*, email: str, request: HttpRequest | None = None) -> None:
    """Has a reset link e-mailed if an active account has this address; says nothing either way.

    1. Counts the request against the limits (per address typed, per client address).
    2. Looks the account up and audits the request: the user when there is one, never the
       address typed (it may be anyone's, or a typo); a limited request as denied.
    3. After commit, queues the worker's task: with the user's id, or with None (no account, or
       a limit reached). The request does the same work either way, and sends no e-mail
       itself, so its answer and its time say nothing about whether the account exists
       (issue 24 items 4 and 5).
    """
    limited = _reset_limit_reached(email=email, address=client_ip(request))
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    detail: dict = {"subject_user_id": user.pk} if user else {"reason": "no_active_account"}
    if limited:
        outcome = AuditOutcome.DENIED
        detail = {**detail, "reason": "rate_limited", "limit": limited}
    else:
        outcome = AuditOutcome.SUCCESS if user else AuditOutcome.FAILURE
    audit_record(
        action=AuditAction.PASSWORD_RESET_REQUESTED, request=request, user=user, outcome=outcome, detail=detail
    )
    recipient = user.pk if user is not None and not limited else None
    transaction.on_commit(lambda: _reset_email_queue(recipient), robust=True)


def password_reset_by_admin(*, user: User, by: User, organisation, request: HttpRequest | None = None) -> None:
    """An admin sends the user a reset link (they still need their second factor to use it)."""
    audit_record(
        action=AuditAction.PASSWORD_RESET_SENT_BY_ADMIN,
        request=request,
        user=by,
        organisation=organisation,
        detail={"subject_user_id": user.pk},
    )
    user_id = user.pk
    transaction.on_commit(lambda: _reset_email_queue(user_id), robust=True)


def _password_set(*, user: User, password: str, keep_session_key: str | None) -> int:
    user.set_password(password)
    user.save(update_fields=["password"])
    # Everyone else signed in as this user (a stolen session, another PC) is signed out.
    sessions = UserSession.objects.filter(user=user)
    if keep_session_key:
        sessions = sessions.exclude(session_key=keep_session_key)
    ended, _ = sessions.delete()
    return ended


@transaction.atomic
def password_change(*, user: User, password: str, request: HttpRequest, remove_passkeys: bool = False) -> None:
    """Sets the password, ends the user's other sessions and, if asked, removes their passkeys."""
    ended = _password_set(user=user, password=password, keep_session_key=request.session.session_key)
    removed = passkeys_remove_all(user=user, reason="password_changed", request=request) if remove_passkeys else 0
    audit_record(
        action=AuditAction.PASSWORD_CHANGED,
        request=request,
        user=user,
        detail={"sessions_ended": ended, "passkeys_removed": removed},
    )


@transaction.atomic
def password_reset_complete(
    *, user: User, password: str, request: HttpRequest | None = None, remove_passkeys: bool = False
) -> None:
    ended = _password_set(user=user, password=password, keep_session_key=None)
    removed = passkeys_remove_all(user=user, reason="password_reset", request=request) if remove_passkeys else 0
    audit_record(
        action=AuditAction.PASSWORD_RESET_COMPLETED,
        request=request,
        user=user,
        detail={"subject_user_id": user.pk, "sessions_ended": ended, "passkeys_removed": removed},
    )


@transaction.atomic
def backup_codes_regenerate(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """Replaces every backup code with ten new ones (returned once); the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    audit_record(action=AuditAction.BACKUP_CODES_REGENERATED, request=request, user=user)
    return codes
