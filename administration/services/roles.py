"""Which roles an administrator may grant at an organisation: the one rule every grant keeps."""

from django.core.exceptions import ValidationError

from accounts.models import ROLES_BY_KIND, Organisation, OrganisationKind, Role

# national_admin is appointed by operators (Django admin or manage.py), never from these pages:
# one org admin must not be able to make anyone, themselves included, a national admin.
GRANTABLE_ROLES = frozenset(Role) - {Role.NATIONAL_ADMIN}


def grantable_roles(organisation: Organisation) -> list[str]:
    """The roles an administrator may grant at `organisation`, in a stable order."""
    allowed = ROLES_BY_KIND[OrganisationKind(organisation.kind)] & GRANTABLE_ROLES
    return [r for r in Role if r in allowed]


def role_check_grantable(organisation: Organisation, role: str) -> None:
    if role not in grantable_roles(organisation):
        raise ValidationError(f"You cannot grant the role {role} at {organisation.name}.", code="role_not_grantable")
