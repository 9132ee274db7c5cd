from django.contrib.auth.models import AnonymousUser
from django.shortcuts import render

from accounts.requests import CpisRequest


def bad_request(request: CpisRequest, exception=None):
    return render(request, "errors/400.jinja", status=400)


def permission_denied(request: CpisRequest, exception=None):
    return render(request, "errors/403.jinja", status=403)


def page_not_found(request: CpisRequest, exception=None):
    return render(request, "errors/404.jinja", status=404)


def server_error(request: CpisRequest):
    return render(request, "errors/500.jinja", status=500)


def service_unavailable(request: CpisRequest, *, retry_after: int):
    """The NHS.UK "service unavailable" page, for when the database cannot be reached.

    Rendered as if signed out: who the user is lives in the database, and asking would fail
    the page itself.
    """
    request.user = AnonymousUser()
    response = render(request, "errors/503.jinja", status=503)
    response["Retry-After"] = str(retry_after)
    return response
