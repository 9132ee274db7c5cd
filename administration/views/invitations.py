"""Invitees: accept the invitation, set a password, then enrol two-factor authentication."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts.forms import post_data
from accounts.requests import CpisRequest
from accounts.views import pending_sign_in_start
from administration.forms import (
    InvitationAcceptForm,
)
from administration.services import (
    InvitationUnusable,
    invitation_accept,
    invitation_refused_record,
    invitation_usable,
)
from administration.views.shared import form_status

_INVITATION_REFUSED_TEXT = {
    "expired": "This invitation link has expired.",
    "used": "This invitation link has already been used.",
    "cancelled": "This invitation has been cancelled.",
    "unknown": "This invitation link is not valid.",
}


def invitation_refusal(request: CpisRequest, refused: InvitationUnusable) -> HttpResponse:
    """The page for an invitation link that cannot be used (also when followed to sign in at the
    organisation's provider), the refusal audited."""
    invitation_refused_record(error=refused, request=request)
    return render(
        request,
        "administration/invitation_refused.jinja",
        {"text": _INVITATION_REFUSED_TEXT[refused.reason], "invitation": refused.invitation},
        status=404 if refused.reason == "unknown" else 410,
    )


@login_not_required
@never_cache
def invitation_accept_view(request: CpisRequest, token: str):
    if request.user.is_authenticated:
        return render(request, "administration/invitation_signed_in.jinja")
    try:
        invitation = invitation_usable(token=token)
    except InvitationUnusable as refused:
        return invitation_refusal(request, refused)
    form = InvitationAcceptForm(post_data(request), email=invitation.email, initial={"full_name": invitation.full_name})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
                request=request,
            )
        except InvitationUnusable as refused:
            # Used up by a double submit or another tab a moment ago.
            invitation_refused_record(error=refused, request=request)
            return render(
                request,
                "administration/invitation_refused.jinja",
                {"text": _INVITATION_REFUSED_TEXT[refused.reason], "invitation": refused.invitation},
                status=410,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            pending_sign_in_start(request, user)
            return redirect("accounts:login_enrol")
    return render(
        request,
        "administration/invitation_accept.jinja",
        {"form": form, "invitation": invitation},
        status=form_status(form),
    )
