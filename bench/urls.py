"""Bench-only URLs: the service's URLs plus the baseline, a bare view doing one query."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from accounts.models import Organisation
from cpis.urls import handler400, handler403, handler404, handler500  # noqa: F401
from cpis.urls import urlpatterns as service_urlpatterns


@login_not_required
def bare(request):
    # The baseline: the same server, middleware and database, one query, a tiny response.
    name = Organisation.objects.order_by("pk").values_list("ods_code", flat=True).first()
    return HttpResponse(name or "", content_type="text/plain")


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *service_urlpatterns]
