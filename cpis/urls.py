from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from cpis.health import healthz
from operations.metrics import metrics

# The Django admin is for operators and needs a second factor like every other page.
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("service/", include("operations.urls")),
    path("django-admin/", admin.site.urls),
    path("fhir/", include("fhir.urls")),
    path("", include("accounts.urls")),
    path("", include("attendances.urls")),
    path("inbox/", include("notifications.urls")),
    path("", include("accounts.administration.urls")),
    path("audit/", include("audit.urls")),
    path("plans/", include("plans.urls")),
]

handler400 = "accounts.errors.bad_request"
handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
handler500 = "accounts.errors.server_error"
