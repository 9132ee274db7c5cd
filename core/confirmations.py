"""The confirmation panel at the end of a big transaction (NHS.UK "panel"), shown once.

The view that completes the transaction marks it in the session; the page it leads to takes the
mark and shows the panel, so a reload, a bookmark or a later visit to the same page shows the
page without it. The mark names what was done (an upload's or a review's id) and the page shows
the panel only for that, so a mark can never confirm something else.
"""

from django.contrib.sessions.backends.base import SessionBase

_SESSION_KEY = "confirmations"


def confirmation_mark(session: SessionBase, kind: str, value: int | str | bool = True) -> None:
    marks = dict(session.get(_SESSION_KEY, {}))
    marks[kind] = value
    session[_SESSION_KEY] = marks


def confirmation_take(session: SessionBase, kind: str, value: int | str | bool = True) -> bool:
    """Whether `kind` was marked for `value`, using the mark up if so; a mark for something else
    is left (another tab's transaction may still be on its way to its page)."""
    marks = dict(session.get(_SESSION_KEY, {}))
    if kind not in marks or marks[kind] != value:
        return False
    del marks[kind]
    session[_SESSION_KEY] = marks
    return True


def confirmation_peek(session: SessionBase, kind: str) -> bool:
    """Whether `kind` is marked (for anything), leaving the mark."""
    return kind in session.get(_SESSION_KEY, {})
