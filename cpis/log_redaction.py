"""Secrets that travel in URL paths (invitation and password-reset links) never reach a log.

The links must be clickable in an e-mail, so the token is in the path; every log that writes a
path — gunicorn's access log, Django's "Not Found: <path>" warnings — passes it through
`path_redacted` first.
"""

import logging
import re

from gunicorn.glogging import Logger

_SECRET_PATH = re.compile(r"(/(?:invitation|password/reset)/)[^/?\s]+")


def path_redacted(text: str) -> str:
    return _SECRET_PATH.sub(r"\1[redacted]", text)


class SecretPathFilter(logging.Filter):
    """For Django's loggers: redacts the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = path_redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(path_redacted(a) if isinstance(a, str) else a for a in record.args)
        return True


class RedactingGunicornLogger(Logger):
    """Gunicorn's access log with secret path segments redacted (cpis/gunicorn.py)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = path_redacted(atoms[key])
        return atoms
