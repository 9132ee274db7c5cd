"""A fresh second factor before a passkey is added (issue 24 item 1).

A passkey signs in without the password, so adding one must be as hard as signing in: within
REAUTHENTICATION_WINDOW the person proved both factors of our own sign-in, the password and a
code (authenticator app or backup code), or used a passkey they already have. Our sign-in counts
(accounts.views._complete_login). A session alone does not: a stolen cookie used to become a
permanent passwordless sign-in. Nor does a provider's sign-in (single sign-on), which proves the
provider's factors, not ours; such a person confirms with our password and code, or a passkey.
"""

import time

from django.conf import settings
from django_otp.models import Device

from accounts.requests import CpisRequest
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record

SESSION_REAUTHENTICATED = "reauthenticated_at"


def reauthentication_fresh(request: CpisRequest) -> bool:
    """Whether this session proved both factors within REAUTHENTICATION_WINDOW."""
    at = request.session.get(SESSION_REAUTHENTICATED)
    return isinstance(at, int | float) and 0 <= time.time() - at <= settings.REAUTHENTICATION_WINDOW


def reauthentication_mark(request: CpisRequest) -> None:
    """Both factors were proved just now (a sign-in, or the confirmation page)."""
    request.session[SESSION_REAUTHENTICATED] = time.time()


def reauthentication_record(*, request: CpisRequest, device: Device) -> None:
    """The confirmation page (password and code) or a passkey proved it is the person: audited."""
    reauthentication_mark(request)
    audit_record(
        action=AuditAction.REAUTHENTICATED,
        request=request,
        user=request.user,
        detail={"device": device.persistent_id},
    )


def reauthentication_refused(*, request: CpisRequest, reason: str) -> None:
    audit_record(
        action=AuditAction.REAUTHENTICATED,
        request=request,
        user=request.user,
        outcome=AuditOutcome.FAILURE,
        detail={"reason": reason},
    )
