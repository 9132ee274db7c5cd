"""Invitees: accept the invitation, set a password, then enrol two-factor authentication."""

import time

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts.administration.forms import (
    InvitationAcceptForm,
)
from accounts.administration.services import (
    InvitationUnusable,
    invitation_accept,
    invitation_refused_record,
    invitation_usable,
)
from accounts.administration.views.shared import form_status
from accounts.models import User

_INVITATION_REFUSED_TEXT = {
    "expired": "This invitation link has expired.",
    "used": "This invitation link has already been used.",
    "cancelled": "This invitation has been cancelled.",
    "unknown": "This invitation link is not valid.",
}


@login_not_required
@never_cache
def invitation_accept_view(request, token: str):
    if request.user.is_authenticated:
        return render(request, "administration/invitation_signed_in.jinja")
    try:
        invitation = invitation_usable(token=token)
    except InvitationUnusable as refused:
        invitation_refused_record(error=refused, request=request)
        return render(
            request,
            "administration/invitation_refused.jinja",
            {"text": _INVITATION_REFUSED_TEXT[refused.reason], "invitation": refused.invitation},
            status=404 if refused.reason == "unknown" else 410,
        )
    form = InvitationAcceptForm(
        request.POST or None, email=invitation.email, initial={"full_name": invitation.full_name}
    )
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
            _pending_enrolment_start(request, user)
            return redirect("accounts:login_enrol")
    return render(
        request,
        "administration/invitation_accept.jinja",
        {"form": form, "invitation": invitation},
        status=form_status(form),
    )


def _pending_enrolment_start(request, user: User) -> None:
    """Puts the new user where the sign-in journey puts them after a correct password."""
    from accounts.views import _PENDING_NEXT, _PENDING_SINCE, _PENDING_USER

    request.session.cycle_key()
    request.session[_PENDING_USER] = user.pk
    request.session[_PENDING_SINCE] = time.time()
    request.session[_PENDING_NEXT] = None
