"""Passkeys: WebAuthn credentials that django-otp-webauthn keeps as django-otp devices, so
`user.is_verified()`, the trained-user gate and the Django admin treat them like the
authenticator app. Here: the removal rule and the audited writes (the pages and the WebAuthn
ceremonies are in accounts/passkey_views.py).

The rule for removal: a passkey can be removed only while its owner keeps another second
factor (a confirmed authenticator app or another passkey). Without one, the next sign-in would
send the password alone to enrolment (`login_enrol`), where whoever knows the password could
set up a new factor and reach child data. It applies to everyone, not only to users who hold a
child-data role today: a role can be granted tomorrow, and the gate would not ask again.
"""

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from accounts.account_emails import passkey_change_notify
from accounts.models import User
from accounts.second_factors import has_second_factor
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, refused_url_detail

# The session key for the name chosen on the "Add a passkey" page, read when the browser has
# made the credential (the WebAuthn ceremony's requests carry no form fields of ours).
SESSION_PASSKEY_NAME = "passkey_name"
PASSKEY_NAME_MAX_LENGTH = WebAuthnCredential._meta.get_field("name").max_length


def passkeys_of(user: User) -> QuerySet[WebAuthnCredential]:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def has_passkey(user: User) -> bool:
    return passkeys_of(user).exists()


def passkeys_removable_all(user: User) -> int:
    """How many passkeys a password change may remove with it: all, if another factor stays."""
    return passkeys_of(user).count() if has_second_factor(user, passkeys=False) else 0


def passkey_removal_refusal(passkey: WebAuthnCredential) -> str | None:
    """Why this passkey cannot be removed now, in words its owner can act on; None if it can."""
    # A provider's assurance does not count: it does not stop the password sign-in's enrolment.
    if has_second_factor(passkey.user, besides=passkey):
        return None
    return (
        "This passkey is your only way to prove it is you after your password. "
        "Add another passkey or set up an authenticator app before you remove it."
    )


@transaction.atomic
def passkey_remove(*, passkey: WebAuthnCredential, request: HttpRequest | None = None) -> str | None:
    """Removes the passkey, or returns why it may not be (the refusal audited, nothing removed)."""
    # Two removals at once (two tabs) must not both see "one more left": lock the owner's
    # second factors until commit.
    list(WebAuthnCredential.objects.select_for_update().filter(user=passkey.user_id).values_list("pk", flat=True))
    list(TOTPDevice.objects.select_for_update().filter(user=passkey.user_id).values_list("pk", flat=True))
    refusal = passkey_removal_refusal(passkey)
    if refusal:
        audit_record(
            action=AuditAction.PASSKEY_REMOVED,
            request=request,
            user=passkey.user,
            outcome=AuditOutcome.DENIED,
            detail={"passkey_id": passkey.pk, "reason": "last_second_factor"},
        )
        return refusal
    audit_record(
        action=AuditAction.PASSKEY_REMOVED, request=request, user=passkey.user, detail={"passkey_id": passkey.pk}
    )
    passkey.delete()
    passkey_change_notify(user=passkey.user, change="removed")
    return None


@transaction.atomic
def passkeys_remove_all(*, user: User, reason: str, request: HttpRequest | None = None) -> int:
    """Removes every passkey of `user` (their password changed, and they asked), each audited.

    Only for a user who keeps another second factor: the removal rule holds here too.
    """
    passkeys = list(passkeys_of(user).select_for_update())
    list(TOTPDevice.objects.select_for_update().filter(user=user).values_list("pk", flat=True))
    if not passkeys or not has_second_factor(user, passkeys=False):
        return 0
    for passkey in passkeys:
        audit_record(
            action=AuditAction.PASSKEY_REMOVED,
            request=request,
            user=user,
            detail={"passkey_id": passkey.pk, "reason": reason},
        )
    WebAuthnCredential.objects.filter(pk__in=[p.pk for p in passkeys]).delete()
    passkey_change_notify(user=user, change="removed_with_password_change", count=len(passkeys))
    return len(passkeys)


def passkey_registered(*, passkey: WebAuthnCredential, request: HttpRequest | None = None) -> None:
    """Audits the new passkey and tells its owner by e-mail: if it was not them, they know."""
    audit_record(
        action=AuditAction.PASSKEY_REGISTERED,
        request=request,
        user=passkey.user,
        detail={"passkey_id": passkey.pk, "discoverable": passkey.discoverable},
    )
    passkey_change_notify(user=passkey.user, change="added")


def passkey_used(*, passkey: WebAuthnCredential, passwordless: bool, request: HttpRequest | None = None) -> None:
    audit_record(
        action=AuditAction.PASSKEY_USED,
        request=request,
        user=passkey.user,
        detail={"passkey_id": passkey.pk, "passwordless": passwordless},
    )


def passkey_failed(
    *, stage: str, code: str, denied: bool, user: User | None = None, request: HttpRequest | None = None
) -> None:
    """A ceremony the server refused: the library's error code only, never the browser's
    response (it carries the credential id and signatures). `denied`: refused for who is
    asking (a 403), rather than for what was sent."""
    audit_record(
        action=AuditAction.PASSKEY_FAILED,
        request=request,
        user=user,
        outcome=AuditOutcome.DENIED if denied else AuditOutcome.FAILURE,
        detail={"stage": stage, "code": code, **(refused_url_detail(request) if denied and request else {})},
    )


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's ceremonies, with the name the user chose (OTP_WEBAUTHN_HELPER_CLASS)."""

    def create_credential(self, user, response, parsed_credential, original_data):
        device = super().create_credential(user, response, parsed_credential, original_data)
        device.name = self.request.session.get(SESSION_PASSKEY_NAME) or "Passkey"
        return device

    def get_credential_display_name(self, user) -> str:
        # Shown by the browser's passkey chooser: the name only, as in the header.
        return user.full_name or user.get_username()
