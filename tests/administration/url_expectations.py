"""Who may use each administration URL (walked by tests/test_url_permissions.py).

Org admins manage only users who hold a role at their own organisation: anyone else's user is a
404, as if it did not exist. National admins reach every organisation's details, admins and access
review, but manage no organisation's users day to day.
"""

import secrets
from datetime import timedelta

from django.utils import timezone

from accounts.models import Invitation, Role, User
from core.tokens import token_hash
from tests.factories import user_with_role
from tests.url_permissions import Expect, World, everyone

ADMINS_200 = {"la_admin": 200, "setting_admin": 200}
OTHER_ORG_ADMINS_404 = {"la_admin": 404, "setting_admin": 404}

_HOME = {"la_admin": "la", "social_worker": "la", "plan_manager": "la", "untrained_social_worker": "la"}


def _organisation(world: World, persona: str, own: bool):
    """The persona's own organisation, or one of the same kind it has nothing to do with."""
    if persona == "national_admin":
        return world.national if own else world.la
    if _HOME.get(persona) == "la":
        return world.la if own else world.other_la
    return world.care_setting if own else world.other_care_setting


def _role_at(organisation) -> str:
    return {
        "local_authority": Role.SOCIAL_WORKER,
        "care_setting": Role.CLINICIAN,
        "national": Role.ORG_ADMIN,
    }[organisation.kind]


def _subject(world, persona, own) -> dict:
    organisation = _organisation(world, persona, own)
    return {"user_id": user_with_role(_role_at(organisation), organisation).pk}


def _subject_and_role(world, persona, own) -> dict:
    organisation = _organisation(world, persona, own)
    role = _role_at(organisation)
    return {"user_id": user_with_role(role, organisation).pk, "role": role}


def _deactivated_subject(world, persona, own) -> dict:
    kwargs = _subject(world, persona, own)
    User.objects.filter(pk=kwargs["user_id"]).update(is_active=False)
    return kwargs


def _invitation(world, persona, own) -> dict:
    organisation = _organisation(world, persona, own)
    invitation = Invitation.objects.create(
        organisation=organisation,
        email=f"invitee-{secrets.token_hex(4)}@example.nhs.uk",
        full_name="Invited Person",
        roles=[_role_at(organisation)],
        token_hash=token_hash(secrets.token_urlsafe(16)),
        expires_at=timezone.now() + timedelta(hours=72),
    )
    return {"invitation_id": invitation.pk}


def _token(world, persona, own) -> dict:
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        organisation=world.care_setting,
        email=f"invitee-{secrets.token_hex(4)}@example.nhs.uk",
        full_name="Invited Person",
        roles=[Role.CLINICIAN],
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(hours=72),
    )
    return {"token": token}


def _review_organisation(world, persona, own) -> dict:
    return {"organisation_id": _organisation(world, persona, own).pk}


def _any_organisation(world, persona, own) -> dict:
    # For national admins every organisation is theirs to manage; "other" is simply another one.
    return {"organisation_id": (world.la if own else world.other_care_setting).pk}


def _removable_admin(world, persona, own) -> dict:
    organisation = world.la if own else world.other_care_setting
    user_with_role(Role.ORG_ADMIN, organisation)  # so the one removed is not the last
    return {"organisation_id": organisation.pk, "user_id": user_with_role(Role.ORG_ADMIN, organisation).pk}


NATIONAL_ANY_ORG = {"national_admin": 200}

EXPECTATIONS = [
    Expect("administration:index", statuses={**ADMINS_200, "national_admin": 200}),
    Expect("administration:users", statuses=ADMINS_200),
    Expect("administration:invite", statuses=ADMINS_200),
    Expect(
        "administration:user_detail",
        statuses=ADMINS_200,
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:role_grant",
        method="post",
        # A safeguarding lead exists at a care setting, not at a local authority.
        data={"role": Role.SAFEGUARDING_LEAD},
        statuses={"setting_admin": 302, "la_admin": 400},
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:role_remove",
        method="post",
        statuses={"setting_admin": 302, "la_admin": 302},
        kwargs=_subject_and_role,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:training_record",
        statuses=ADMINS_200,
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:user_deactivate",
        statuses=ADMINS_200,
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:user_reactivate",
        method="post",
        statuses={"setting_admin": 302, "la_admin": 302},
        kwargs=_deactivated_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:password_reset_send",
        method="post",
        statuses={"setting_admin": 302, "la_admin": 302},
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:two_factor_reset",
        statuses=ADMINS_200,
        kwargs=_subject,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:invitation_cancel",
        method="post",
        statuses={"setting_admin": 302, "la_admin": 302},
        kwargs=_invitation,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:invitation_resend",
        method="post",
        statuses={"setting_admin": 302, "la_admin": 302},
        kwargs=_invitation,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:access_review",
        statuses={**ADMINS_200, "national_admin": 200},
        kwargs=_review_organisation,
        other_statuses={**OTHER_ORG_ADMINS_404, "national_admin": 200},
        other_default=403,
    ),
    # Recording a review is an org admin's, for their own organisation only: a national admin
    # reads every review but records none.
    Expect(
        "administration:access_review_record",
        method="post",
        statuses={"la_admin": 302, "setting_admin": 302},
        kwargs=_review_organisation,
        other_statuses=OTHER_ORG_ADMINS_404,
        other_default=403,
    ),
    Expect(
        "administration:access_review_csv",
        statuses={**ADMINS_200, "national_admin": 200},
        kwargs=_review_organisation,
        other_statuses={**OTHER_ORG_ADMINS_404, "national_admin": 200},
        other_default=403,
    ),
    Expect("administration:organisations", statuses=NATIONAL_ANY_ORG),
    Expect("administration:organisation_create", statuses=NATIONAL_ANY_ORG),
    Expect("administration:organisation_import", statuses=NATIONAL_ANY_ORG),
    # Nothing checked and waiting: back to the upload page.
    Expect("administration:organisation_import_confirm", method="post", statuses={"national_admin": 302}),
    Expect("administration:organisation_import_rejected_csv", statuses={"national_admin": 302}),
    Expect(
        "administration:organisation_detail",
        statuses=NATIONAL_ANY_ORG,
        kwargs=_any_organisation,
        other_statuses=NATIONAL_ANY_ORG,
        other_default=403,
    ),
    Expect(
        "administration:organisation_edit",
        statuses=NATIONAL_ANY_ORG,
        kwargs=_any_organisation,
        other_statuses=NATIONAL_ANY_ORG,
        other_default=403,
    ),
    Expect(
        "administration:org_admin_appoint",
        method="post",
        # An empty form: the page again with the error summary.
        statuses={"national_admin": 400},
        kwargs=_any_organisation,
        other_statuses={"national_admin": 400},
        other_default=403,
    ),
    Expect(
        "administration:org_admin_remove",
        method="post",
        statuses={"national_admin": 302},
        kwargs=_removable_admin,
        other_statuses={"national_admin": 302},
        other_default=403,
    ),
    # Invitees have no account yet; someone signed in is asked to log out first.
    Expect(
        "administration:invitation_accept",
        anonymous=200,
        statuses=everyone(200),
        kwargs=_token,
        other_statuses=everyone(200),
    ),
]
