"""The signed-in state every page reads, kept in each worker per session and version.

Each request reads its session, its user and the user's `SignedInVersion` in one query
(accounts/sessions.py). The rest of the state, the user's memberships with their
organisations and whether training is current, and the TOTP device that verified the
session, is read once per (session, version, day) and kept here. The version is bumped in
the transaction of every change to what that state is made of (the receivers below), so the
first request after the commit reads a new version and reads the rows again: a removed role,
revoked training, a reset device or a deactivated organisation takes effect on the next
request, as the trained-user gate needs. Expiring training needs no bump: the day is in the
key. A deactivated user or a changed password needs none either: the user's row is read
fresh with the session on every request.

Only a user read with its session carries the key (`signed_in_key`); any other user (an API
token's owner, Django's own backend) reads its rows every time. Each request gets its own
copies of the kept instances, so a view changing one cannot change another request's.
"""

import copy
from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import Membership, Organisation, SignedInVersion, TrainingRecord, User

T = TypeVar("T")

# A few KB a session: one entry per part (memberships, device) and signed-in session a worker
# has served lately.
_KEPT_MAX = 4096
_kept: OrderedDict[tuple, Any] = OrderedDict()
_kept_lock = Lock()
_MISSING = object()

# The attribute on a user read with its session: (session key, SignedInVersion.version).
SIGNED_IN_KEY = "signed_in_key"


def kept_for(user: Any, part: str, key: Hashable, read: Callable[[], T], copied: Callable[[T], T]) -> T:
    """`read()` for `user`'s session, kept under the session's version and `key`, and
    `copied` for this request. A user not read with a session gets `read()` itself.

    Read after the version was: rows newer than the version may be kept under it, never
    older ones, since a change bumps the version only once it has written its rows.
    """
    signed_in = getattr(user, SIGNED_IN_KEY, None)
    if signed_in is None:
        return read()
    kept_key = (part, user.pk, *signed_in, key)
    with _kept_lock:
        value = _kept.get(kept_key, _MISSING)
        if value is not _MISSING:
            _kept.move_to_end(kept_key)
    if value is _MISSING:
        value = read()
        with _kept_lock:
            _kept[kept_key] = value
            while len(_kept) > _KEPT_MAX:
                _kept.popitem(last=False)
    return copied(value)


def memberships_copied(memberships: list[Any]) -> list[Any]:
    """Copies of memberships and their organisations, each organisation copied once."""
    organisations: dict[int, Organisation] = {}
    result = []
    for membership in memberships:
        mine = copy.copy(membership)
        organisation = organisations.get(membership.organisation_id)
        if organisation is None:
            organisation = organisations[membership.organisation_id] = copy.copy(membership.organisation)
        mine.organisation = organisation
        result.append(mine)
    return result


def device_copied(device: T) -> T:
    return copy.copy(device) if device is not None else device


def signed_in_version_of(user_id_field: str) -> Coalesce:
    """An annotation: the version of the user `user_id_field` names (0 before the first bump)."""
    version = SignedInVersion.objects.filter(user_id=OuterRef(user_id_field)).values("version")[:1]
    return Coalesce(Subquery(version), 0)


_TABLE = SignedInVersion._meta.db_table
# One statement on PostgreSQL and SQLite alike: a user's first bump makes the row.
_BUMP_USER = (
    f"INSERT INTO {_TABLE} (user_id, version) VALUES (%s, 1) "  # noqa: S608 - the table's name, no input
    f"ON CONFLICT (user_id) DO UPDATE SET version = {_TABLE}.version + 1"
)
_BUMP_ORGANISATION = (
    f"INSERT INTO {_TABLE} (user_id, version) "  # noqa: S608 - table names, no input
    f"SELECT DISTINCT user_id, 1 FROM {Membership._meta.db_table} WHERE organisation_id = %s "
    f"ON CONFLICT (user_id) DO UPDATE SET version = {_TABLE}.version + 1"
)


def signed_in_version_bump(*, user_id: int | None = None, organisation_id: int | None = None) -> None:
    """Bumps the version of `user_id`, or of every member of `organisation_id`, in the current
    transaction. For any change the receivers below do not see (a QuerySet's `update()`,
    raw SQL) on the rows `SignedInVersion` names: none in the code base today."""
    using = router.db_for_write(SignedInVersion)
    with connections[using].cursor() as cursor:
        if user_id is not None:
            cursor.execute(_BUMP_USER, [user_id])
        if organisation_id is not None:
            cursor.execute(_BUMP_ORGANISATION, [organisation_id])


def _user_changed(sender, instance, raw=False, **kwargs) -> None:
    # Saved only: a deleted user's sessions go with it (they cascade).
    if not raw:
        signed_in_version_bump(user_id=instance.pk)


def _users_row_changed(sender, instance, raw=False, **kwargs) -> None:
    if not raw and instance.user_id is not None:
        signed_in_version_bump(user_id=instance.user_id)


def _organisation_changed(sender, instance, raw=False, **kwargs) -> None:
    if not raw:
        signed_in_version_bump(organisation_id=instance.pk)


def receivers_connect() -> None:
    """Connected once, from AccountsConfig.ready()."""
    post_save.connect(_user_changed, sender=User, dispatch_uid="signed_in_user")
    # Passkeys: an API token's owner counts as enrolled by one (fhir/api/gate.py).
    for model in (Membership, TrainingRecord, TOTPDevice, WebAuthnCredential):
        for signal in (post_save, post_delete):
            signal.connect(_users_row_changed, sender=model, dispatch_uid=f"signed_in_{model.__name__}")
    post_save.connect(_organisation_changed, sender=Organisation, dispatch_uid="signed_in_organisation")
