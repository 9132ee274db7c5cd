"""Django's ModelBackend, given the user the request's session was read with.

Django looks the session's user up with a query of its own after reading the session;
accounts/sessions.py reads the user in the session's own query, and the authentication
middleware (accounts/middleware.py) hands it over for the length of Django's `get_user`, which
still does every check it does (the backend is one we list, the session's hash matches the
user's password, the user may sign in) on that user.
"""

from contextvars import ContextVar
from typing import Any

from django.contrib.auth.backends import ModelBackend

# Set only while the authentication middleware asks Django for the request's user.
session_user: ContextVar[Any] = ContextVar("session_user", default=None)

# The path each sign-in stores in its session (Django's BACKEND_SESSION_KEY).
SESSION_USER_BACKEND = "accounts.backends.SessionUserBackend"


class SessionUserBackend(ModelBackend):
    def get_user(self, user_id):
        user = session_user.get()
        if user is None or user.pk != user_id:
            return super().get_user(user_id)
        return user if self.user_can_authenticate(user) else None
