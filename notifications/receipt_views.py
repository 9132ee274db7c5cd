"""The callback GOV.UK Notify calls with each e-mail's delivery receipt (docs/notifications.md).

Notify's servers call it, not a browser: no session or CSRF token comes with it, only the bearer
token we gave Notify (NOTIFY_CALLBACK_TOKEN), compared in constant time. A refusal is audited;
an address that sent NOTIFY_CALLBACK_REFUSAL_LIMIT refused calls this minute gets 429 before
its token is read, so the token cannot be guessed at speed. Calls with the right token are not
counted: Notify sends a receipt per e-mail, and a lost receipt would hide a failed delivery.
"""

import hmac
import json

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.requests import CpisRequest
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record, client_ip
from cpis.resilience import window_count, window_number, window_read, window_seconds_left
from notifications.services import ReceiptRefused, email_receipt_record

_WINDOW_SECONDS = 60
# Notify's receipts are a few hundred bytes; anything much larger is not one.
_MAX_BODY = 16 * 1024


def _refusals_key(request: CpisRequest) -> str:
    return f"notify-callback:refused:{client_ip(request) or 'unknown'}:{window_number(_WINDOW_SECONDS)}"


def _token_matches(request: CpisRequest) -> bool:
    expected = settings.NOTIFY_CALLBACK_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # An unset token refuses everything: an empty bearer must not match an empty setting.
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def _refuse(request: CpisRequest, *, reason: str, status: int) -> JsonResponse:
    window_count(_refusals_key(request), timeout=_WINDOW_SECONDS * 2)
    audit_record(
        action=AuditAction.NOTIFY_CALLBACK_REFUSED,
        request=request,
        outcome=AuditOutcome.DENIED,
        detail={"reason": reason, "status": status},
    )
    return JsonResponse({"error": reason}, status=status)


@login_not_required
@csrf_exempt
@never_cache
@require_POST
def notify_receipt(request: CpisRequest) -> JsonResponse:
    if window_read(_refusals_key(request)) >= settings.NOTIFY_CALLBACK_REFUSAL_LIMIT:
        response = JsonResponse({"error": "rate_limited"}, status=429)
        response["Retry-After"] = str(window_seconds_left(_WINDOW_SECONDS))
        return response
    if not _token_matches(request):
        return _refuse(request, reason="token", status=401)
    if len(request.body) > _MAX_BODY:
        return _refuse(request, reason="too_large", status=400)
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _refuse(request, reason="not_json", status=400)
    try:
        recorded = email_receipt_record(body=body)
    except ReceiptRefused as refused:
        return _refuse(request, reason=refused.reason, status=400)
    return JsonResponse({"recorded": recorded})
