"""Reads for the report pages beyond the requester's own organisation."""

from django.db.models import QuerySet

from accounts.models import Organisation


def organisations_active() -> QuerySet[Organisation]:
    """Every active organisation, by name: the rows of the national reports."""
    return Organisation.objects.filter(is_active=True).order_by("name")
