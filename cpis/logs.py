"""What the service's logs may carry: never a query string (the FHIR API's carries the NHS
number), never an NHS number, wherever it comes from (a driver's error quoting a row, a crash
below Django reported by gunicorn).

`RedactFilter` rewrites each record before any handler formats it: the message with its
arguments, and the traceback, with query strings and anything shaped like an NHS number
replaced. It sits on the handlers of Django's logging (settings.LOGGING) and of gunicorn's
(cpis/gunicorn.py), so it also covers third-party code that logs what it likes.
"""

import logging
import re

# A query string: from "?" to the end of the URL (whitespace, a quote or the end).
_QUERY = re.compile(r"\?[^\s\"'<>]*")
# Ten digits, optionally spaced 3-3-4 as people write them; not part of a longer number.
_NHS_NUMBER = re.compile(r"(?<![\d.])\d{3}[ -]?\d{3}[ -]?\d{4}(?![\d.])")


def redact(text: str) -> str:
    text = _QUERY.sub("?[query removed]", text)
    return _NHS_NUMBER.sub("[number removed]", text)


class RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            # Formatted here, once, so the exception's own text (which can quote a URL or a
            # row) is redacted like the message.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
