"""Object access for the API token pages: a token is its owner's alone."""

from django.http import Http404

from accounts.requests import SignedInRequest
from fhir.models import ApiToken


def access_token_by_owner(request: SignedInRequest, token_id: int) -> ApiToken:
    # Nobody else, admin or not, sees or revokes it here: anyone else's is "not found".
    token = ApiToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404
    return token
