"""API tokens: issue and revoke (each audited)."""

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction
from audit.services import audit_record
from core.tokens import token_hash
from fhir.models import TOKEN_PREFIX, ApiToken


@transaction.atomic
def api_token_issue(
    *,
    user: User,
    organisation: Organisation,
    name: str,
    valid_days: int,
    request: HttpRequest | None = None,
    marker: str = "",
) -> tuple[ApiToken, str]:
    """Creates a token and returns it with its value, which is never stored or shown again."""
    raw = ApiToken.generate(marker)
    token = ApiToken.objects.create(
        user=user,
        organisation=organisation,
        name=name,
        hashed=token_hash(raw),
        hint=raw[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 8],
        expires_at=timezone.now() + timedelta(days=valid_days),
    )
    audit_record(action=AuditAction.API_TOKEN_ISSUED, request=request, detail={"token_id": token.pk})
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, request: HttpRequest | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action=AuditAction.API_TOKEN_REVOKED, request=request, detail={"token_id": token.pk})


def tokens_revoke_for_deactivated_user(*, user: User, **kwargs: Any) -> int:
    """Receiver of accounts' `user_deactivated`: every token the account holds stops at once,
    and stays revoked if the account is reactivated (its owner issues new ones)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
