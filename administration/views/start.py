"""The administration start page: links for org admins and for national admins."""

from django.shortcuts import render

from accounts.access import role_required
from accounts.models import Role
from accounts.requests import OrganisationRequest
from administration.views.shared import ADMINS


@role_required(*ADMINS)
def index(request: OrganisationRequest):
    return render(request, "administration/index.jinja", {"is_national": Role.NATIONAL_ADMIN in request.roles})
