"""Database sessions linked to their user (Django's documented way to extend the DB engine)."""

from datetime import datetime
from typing import TYPE_CHECKING, cast

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils import timezone

from accounts.backends import SESSION_USER_BACKEND
from accounts.signed_in import SIGNED_IN_KEY, signed_in_version_of
from core.compiled_queries import CompiledQuerySet

if TYPE_CHECKING:
    from accounts.models import User, UserSession


def _live_session(session_key, now):
    from accounts.models import UserSession

    # The user and their signed-in state's version with the session: the one query a signed-in
    # page makes before its view (accounts/signed_in.py keeps the rest under the version).
    return (
        UserSession.objects.filter(session_key=session_key, expire_date__gt=now)
        .select_related("user")
        .annotate(signed_in_version=signed_in_version_of("user_id"))[:1]
    )


# Read on every page: compiled to SQL once per process (core/compiled_queries.py).
_live_sessions = CompiledQuerySet(_live_session, placeholders={"session_key": str, "now": datetime})


# The session key under which single sign-on keeps which provider signed the user in (its
# issuer, `sub` and `sid`); the app above accounts writes it, the store mirrors it into columns.
SESSION_PROVIDER = "sso"

_DJANGO_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _text(value, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class SessionStore(DBStore):
    # The user read with the session, if it was read from the database by this store.
    signed_in_user: "User | None" = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import UserSession

        return UserSession

    def _get_session_from_db(self):
        # Django's own lookup (same filter), without building the QuerySet on every request.
        if self.session_key is None:
            return super()._get_session_from_db()  # type: ignore[misc]  # in Django, not in its stubs
        found = _live_sessions(session_key=self.session_key, now=timezone.now())
        if not found:
            self._session_key = None
            return None
        session = found[0]
        # Handed to Django's user lookup by accounts.backends, which checks it is the session's.
        self.signed_in_user = session.user
        if session.user is not None:
            setattr(session.user, SIGNED_IN_KEY, (session.session_key, session.signed_in_version))
        return session

    def load(self):
        data = super().load()
        # Sessions signed in before accounts.backends existed name Django's ModelBackend, which
        # ours extends: read as ours, so the deploy that brought it signed nobody out.
        if data.get(BACKEND_SESSION_KEY) == _DJANGO_MODEL_BACKEND:
            data[BACKEND_SESSION_KEY] = SESSION_USER_BACKEND
        return data

    def create_model_instance(self, data):
        # An instance of get_model_class(), which the stubs know only as AbstractBaseSession.
        obj = cast("UserSession", super().create_model_instance(data))
        try:
            obj.user_id = int(data.get(SESSION_KEY))
        except (TypeError, ValueError):
            obj.user_id = None
        # Written on every save, so the columns follow the session through cycle_key().
        provider = data.get(SESSION_PROVIDER)
        provider = provider if isinstance(provider, dict) else {}
        obj.provider_issuer = _text(provider.get("issuer"), 300)
        obj.provider_subject = _text(provider.get("sub"), 255)
        obj.provider_sid = _text(provider.get("sid"), 255)
        return obj
