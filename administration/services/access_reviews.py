"""Access reviews: an organisation's administrator vouches for who has access there."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts.models import AccessReview, Membership, Organisation, Role, User
from audit.models import AuditAction
from audit.services import audit_record


@transaction.atomic
def access_review_record(
    *, organisation: Organisation, by: User, note: str = "", request: HttpRequest | None = None
) -> AccessReview:
    """Records that `by` reviewed who has access to `organisation`, and audits it.

    Only an org admin of that organisation may: a review vouches for people the reviewer manages,
    so a national admin (who reads every organisation's review) records none for them.
    """
    if not Membership.objects.filter(user=by, organisation=organisation, role=Role.ORG_ADMIN).exists():
        raise ValidationError(
            "Only an administrator of this organisation can record its access review.", code="not_org_admin"
        )
    listed = Membership.objects.filter(organisation=organisation).values("user_id").distinct().count()
    review = AccessReview.objects.create(
        organisation=organisation, reviewed_by=by, reviewed_by_name=by.full_name, note=note, users_listed=listed
    )
    audit_record(
        action=AuditAction.ACCESS_REVIEW_RECORDED,
        request=request,
        user=by,
        organisation=organisation,
        # Not the note: it is free text and may name people.
        detail={"organisation_id": organisation.pk, "access_review_id": review.pk, "users": listed},
    )
    return review
