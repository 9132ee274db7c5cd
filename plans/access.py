"""Object access for plans and uploads: always scoped to the user's current organisation.

Another organisation's plan or upload answers 404, exactly like one that does not exist, so
a guessed id tells nobody whether another LA holds a child.
"""

from django.shortcuts import get_object_or_404

from accounts.requests import OrganisationRequest
from plans.models import Plan, PlanUpload


def access_plan_by_local_authority(request: OrganisationRequest, plan_id: int) -> Plan:
    return get_object_or_404(
        Plan.objects.for_local_authority(request.organisation).select_related("organisation"), pk=plan_id
    )


def access_upload_by_local_authority(request: OrganisationRequest, upload_id: int) -> PlanUpload:
    return get_object_or_404(
        PlanUpload.objects.filter(organisation=request.organisation).defer("content"), pk=upload_id
    )
