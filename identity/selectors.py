"""Reads for the check: the verified data held (never PDS itself)."""

from datetime import date

from identity.models import VerifiedIdentity


def verified_date_of_birth(nhs_number: str) -> date | None:
    """The date of birth PDS verified for this number, if CP-IS holds one."""
    return (
        VerifiedIdentity.objects.filter(nhs_number=nhs_number, date_of_birth__isnull=False)
        .values_list("date_of_birth", flat=True)
        .first()
    )
