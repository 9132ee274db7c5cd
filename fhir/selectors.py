"""Reads for the API token pages."""

from django.db.models import QuerySet

from accounts.models import User
from fhir.models import ApiToken


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """Every token the user has been issued, revoked and expired ones too, with its organisation."""
    return ApiToken.objects.filter(user=user).select_related("organisation")
