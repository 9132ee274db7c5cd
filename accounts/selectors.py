"""Reads for the sign-in pages: the people they name before anyone is signed in."""

from accounts.models import User


def user_active(*, user_id: int) -> User | None:
    """The active user with this id (whose password was just accepted), or None."""
    return User.objects.filter(pk=user_id, is_active=True).first()


def user_by_email(*, email: str) -> User | None:
    """The account an address typed at sign-in belongs to, if any: named in the audit event of a
    refused or locked-out sign-in, never on the page."""
    return User.objects.filter(email=email).first()
