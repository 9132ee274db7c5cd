"""Search terms that name a child, kept in the session and never put in a URL.

Searches are GETs with their query in the URL, so a results page can be bookmarked and shared
(SPEC: the other filters are). A child's NHS number or name must not go there: proxies, access
logs, browser history and the Referer header all carry URLs. So a search that names a child is
POSTed; the term is kept here under a random key of no meaning, and the POST redirects to the
search's URL with the rest of the query and that key (`child=…`). The key only means something
in the session that made it: a bookmark or shared link keeps every other criterion and says
that the child's identifier has to be entered again.
"""

import secrets

from django.contrib.sessions.backends.base import SessionBase

_SESSION_KEY = "kept_child_searches"
# Enough for a few tabs of searches at once; the oldest goes first.
_KEPT = 5
URL_PARAMETER = "child"


def term_keep(session: SessionBase, kind: str, term: str) -> str:
    """Keeps `term` for searches of `kind` ("plans", "audit"); returns its key for the URL."""
    kept = dict(session.get(_SESSION_KEY, {}))
    terms = dict(kept.get(kind, {}))
    for key, value in list(terms.items()):
        if value == term:
            del terms[key]  # the same term again gets a new key, the newest
    key = secrets.token_urlsafe(6)
    terms[key] = term
    kept[kind] = dict(list(terms.items())[-_KEPT:])
    session[_SESSION_KEY] = kept
    return key


def term_kept(session: SessionBase, kind: str, key: str) -> str | None:
    """The term kept under `key`, or None (no key, or not this session's)."""
    if not key:
        return None
    value = session.get(_SESSION_KEY, {}).get(kind, {}).get(key)
    return value if isinstance(value, str) else None
