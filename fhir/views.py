"""The web pages where a trained user manages their personal API tokens."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.forms import post_data
from accounts.requests import OrganisationRequest, SignedInRequest
from attendances.services import CHECKING_ROLES
from fhir.access import access_token_by_owner
from fhir.forms import ApiTokenForm
from fhir.selectors import api_tokens_of
from fhir.services import api_token_issue, api_token_revoke

_NEW_TOKEN = "new_api_token"


@never_cache
@role_required(*CHECKING_ROLES)
def token_list(request: OrganisationRequest):
    form = ApiTokenForm(post_data(request))
    if request.method == "POST" and form.is_valid():
        token, raw = api_token_issue(
            user=request.user,
            organisation=request.organisation,
            name=form.cleaned_data["name"],
            valid_days=form.cleaned_data["valid_days"],
            request=request,
        )
        # Shown once, on the next page, then gone: only its hash is kept.
        request.session[_NEW_TOKEN] = {"id": token.pk, "value": raw}
        return redirect("fhir:token_list")
    new_token = request.session.pop(_NEW_TOKEN, None)
    tokens = api_tokens_of(request.user)
    return render(
        request,
        "fhir/tokens.jinja",
        {"form": form, "tokens": tokens, "new_token": new_token},
        status=400 if form.errors else 200,
    )


# Owners may revoke their tokens even after losing the role (the tokens stopped working anyway).
@require_POST
def token_revoke(request: SignedInRequest, token_id: int):
    token = access_token_by_owner(request, token_id)
    api_token_revoke(token=token, request=request)
    messages.success(request, f"The token “{token.name}” no longer works.")
    return redirect("fhir:token_list")
