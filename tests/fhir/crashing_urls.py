"""The real URLs, plus views that fail as an outage or a bug would, under the FHIR base and on
the web, for the error-handler tests (tests/fhir/test_outages.py)."""

from django.contrib.auth.decorators import login_not_required
from django.db import OperationalError
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import ConnectionError as RedisConnectionError

from cpis.urls import handler400, handler403, handler404, handler500  # noqa: F401

FAILURES = {
    "database": lambda: OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused'),
    "redis": lambda: RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    "bug": lambda: ValueError("no plan row for 9434765919"),
}


@csrf_exempt
@login_not_required
def fail(request, failure: str):
    raise FAILURES[failure]()


urlpatterns = [
    path("fhir/R4/failing/<str:failure>", fail),
    path("failing/<str:failure>", fail),
    path("", include("cpis.urls")),
]
