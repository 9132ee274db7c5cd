"""A page that crashes with child data in its exception, for the error-tracking test."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path


@login_not_required
def crash(request):
    raise ValueError(f"no plan row for {request.GET.get('nhs_number')} (Quibbleworth, 2019-03-04)")


urlpatterns = [path("crash/", crash)]
