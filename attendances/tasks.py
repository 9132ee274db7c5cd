"""Worker tasks for visits: thin, they take ids and call a service."""

from celery import shared_task
from django.db import OperationalError

from attendances.models import Visit
from attendances.services import visit_history_trim


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=10,
)
def visits_trim(visit_id: int) -> None:
    """Keeps the last 25 visits of the child this new visit belongs to.

    Takes the visit's id, not the NHS number, so no child identifier sits in the broker or in
    worker logs. If that visit is already gone, an earlier trim has done this one's work.
    """
    nhs_number = Visit.objects.filter(pk=visit_id).values_list("nhs_number", flat=True).first()
    if nhs_number is not None:
        visit_history_trim(nhs_number=nhs_number)
