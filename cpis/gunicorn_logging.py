"""Gunicorn's logger with our redaction (cpis/logs.py): its error log reports a crashed request
by its full URI, query string and all, and its access log names paths that may carry a token.

Its access log is plain text, one line per request, and gunicorn writes the path decoded: a
request for `/livez%0d%0a1.2.3.4 via ...` would write a second line of the caller's choosing,
and `%00` a NUL byte. So every value a line is made of is escaped first: control characters
(C0, DEL, C1) and the Unicode line and paragraph separators as `\\x0d` or `\\u2028`, and the
backslash itself as `\\\\`, so an escape in a line is always ours."""

import re

from gunicorn import glogging

from cpis.logs import RedactFilter, redact

_UNPRINTABLE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char):02x}" if ord(char) <= 0xFF else f"\\u{ord(char):04x}"


def escape_unprintable(text: str) -> str:
    return _UNPRINTABLE.sub(_escaped, text)


class RedactingLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.addFilter(RedactFilter())

    def atoms(self, resp, req, environ, request_time):
        # The access log's message is preformatted from these atoms; redact them at the source,
        # then escape every one (headers and environ included: a format may name any of them).
        # Redacted first: an escape ends in a letter or digit, which would shield a number
        # after it from the redactor.
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = escape_unprintable(redact(value) if key in ("U", "r", "f") else value)
        return atoms
