import sys
from pathlib import Path
from typing import cast

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.static import serve

from accounts import errors as web_errors
from accounts.operator_admin import BreakGlassAdminSite
from cpis.health import healthz, livez, readyz
from cpis.resilience import OUTAGE_RETRY_AFTER_SECONDS, is_outage
from fhir import api as fhir_api
from operations.metrics import metrics

# The Django admin is break-glass: superusers with a second factor, every use audited (ADR-007).
admin.site.__class__ = BreakGlassAdminSite

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("service/", include("operations.urls")),
    path("django-admin/", admin.site.urls),
    path("fhir/", include("fhir.urls")),
    path("", include("accounts.urls")),
    path("", include("attendances.urls")),
    path("inbox/", include("notifications.urls")),
    path("", include("administration.urls")),
    path("", include("single_sign_on.urls")),
    path("", include("suppliers.urls")),
    path("audit/", include("administration.audit_urls")),
    path("plans/", include("plans.urls")),
    path("reports/", include("reports.urls")),
    path("guidance/", include("guidance.urls")),
    path("privacy/", include("privacy.urls")),
]

if settings.DEBUG:
    # STATICFILES_DIRS mixes a path and a (prefix, path) pair, which the plugin reads as objects.
    _NHSUK_ASSETS = cast(tuple[str, Path], settings.STATICFILES_DIRS[1])[1] / "assets"
    # nhsuk-frontend's CSS asks for its icons under /assets/; collectstatic rewrites those URLs
    # to hashed static ones in production (cpis/staticfiles.py), the development server cannot.
    urlpatterns.append(
        re_path(
            r"^assets/(?P<path>.*)$",
            login_not_required(serve),
            {"document_root": _NHSUK_ASSETS},
        )
    )


# Under the FHIR base every answer is FHIR, even those Django gives before or after any view
# (docs/fhir.md "Errors"); everywhere else, the NHS.UK pages, and a "service unavailable" page
# (503) while the database or Redis cannot be reached.
def _fhir(request) -> bool:
    return request.path_info.startswith("/fhir/R4/")


def handler400(request, exception=None):
    return fhir_api.bad_request(request, exception) if _fhir(request) else web_errors.bad_request(request, exception)


def handler500(request):
    if _fhir(request):
        return fhir_api.server_error(request)
    if is_outage(sys.exception()):
        return web_errors.service_unavailable(request, retry_after=OUTAGE_RETRY_AFTER_SECONDS)
    return web_errors.server_error(request)


handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
