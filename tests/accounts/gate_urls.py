"""The project's URLs plus two test-only views, to test role_required through real requests."""

from django.http import HttpResponse
from django.urls import path

from accounts.access import role_required
from accounts.models import Role
from cpis.urls import handler403  # noqa: F401
from cpis.urls import urlpatterns as project_urlpatterns


@role_required(Role.CLINICIAN, Role.SAFEGUARDING_LEAD)
def child_data_view(request):
    return HttpResponse("child data")


@role_required(Role.ORG_ADMIN)
def admin_view(request):
    return HttpResponse("admin page")


urlpatterns = [
    *project_urlpatterns,
    path("test/child-data/", child_data_view),
    path("test/admin/", admin_view),
]
