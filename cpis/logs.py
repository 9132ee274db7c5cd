"""What the service's logs may carry: never a query string (the FHIR API's carries the NHS
number), never an NHS number, wherever it comes from (a driver's error quoting a row, a crash
below Django reported by gunicorn).

`RedactFilter` rewrites each record before any handler formats it: the message with its
arguments, and the traceback, with query strings and anything shaped like an NHS number
replaced. It sits on the handlers of Django's logging (settings.LOGGING) and of gunicorn's
(cpis/gunicorn.py), so it also covers third-party code that logs what it likes.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_finished

# A query string: from "?" to the end of the URL (whitespace, a quote or the end).
_QUERY = re.compile(r"\?[^\s\"'<>]*")
# Ten digits, optionally spaced 3-3-4 as people write them, standing as a number: not part of a
# longer number or decimal, and not inside a run of letters and digits, which is how the ids we
# generate look (a request id is 32 hex digits, and 3.6% of them hold ten digits in a row; a
# redacted id no longer matches its Sentry event). "_" and punctuation still bound a number.
_NHS_NUMBER = re.compile(r"(?<![^\W_])(?<!\d\.)\d{3}[ -]?\d{3}[ -]?\d{4}(?![^\W_])(?!\.\d)")
# Invitation and password-reset links carry their single-use token in the path (they must be
# clickable in an e-mail), so the token is cut from any path a log line names.
_SECRET_PATH = re.compile(r"(/(?:invitation|password/reset)/)[^/?\s\"']+")


def redact(text: str) -> str:
    text = _QUERY.sub("?[query removed]", text)
    text = _SECRET_PATH.sub(r"\1[redacted]", text)
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


# --- Who and what a log line is about: the request id, user, organisation and TraceID ---------


_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The current request (web) or task (worker): a dict, read by ContextFilter at each log call.
_context: ContextVar[dict | None] = ContextVar("cpis_log_context", default=None)


def _request_fields(request) -> dict:
    """Ids only, read when a line is logged: the FHIR API signs its caller in inside the view."""
    user = getattr(request, "user", None)
    organisation = getattr(request, "organisation", None)
    trace_id = request.headers.get("TraceID", "")
    return {
        "user_id": user.pk if user is not None and user.is_authenticated else None,
        "organisation": getattr(organisation, "ods_code", None),
        "trace_id": trace_id if _ID.match(trace_id) else None,
    }


def log_context() -> dict:
    """The current request's or task's ids (empty outside either)."""
    context = _context.get()
    if not context:
        return {}
    request = context.get("request")
    fields = {k: v for k, v in context.items() if k != "request"}
    if request is not None:
        fields |= _request_fields(request)
    return {k: v for k, v in fields.items() if v is not None}


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_from(request) -> str:
    """The proxy's request id when we are told to trust its header (REQUEST_ID_HEADER), so one id
    follows a request through the proxy's logs and ours; else a new one."""
    from django.conf import settings

    header = getattr(settings, "REQUEST_ID_HEADER", "")
    if header:
        given = request.headers.get(header, "")
        if _ID.match(given):
            return given
    return request_id_new()


class RequestContextMiddleware:
    """First in MIDDLEWARE: gives the request an id (answered as X-Request-ID) for every log
    line it causes, and puts the id and the client's address into the WSGI environ, where
    gunicorn's access log reads them (cpis/gunicorn.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from audit.services import client_ip

        request_id = request_id_from(request)
        request.request_id = request_id
        request.META["cpis.request_id"] = request_id
        request.META["cpis.client_ip"] = client_ip(request) or "-"
        # Cleared when the response is finished (request_finished), not here: Django logs a
        # 4xx or 5xx answer after the middleware has returned it.
        _context.set({"request_id": request_id, "request": request})
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _request_finished(**kwargs) -> None:
    _context.set(None)


request_finished.connect(_request_finished, dispatch_uid="cpis.logs.request_finished")


class ContextFilter(logging.Filter):
    """Adds the current request's or task's ids to each record (for JsonFormatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.cpis_context = log_context()
        except Exception:  # noqa: BLE001 - logging must never fail the request
            record.cpis_context = {}
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context ids, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "cpis_context", {}),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


# --- Carrying the ids into the Celery tasks a request enqueues ----------------------------------

_HEADER = "cpis_log_context"


def _before_publish(headers=None, **kwargs) -> None:
    context = log_context()
    if headers is not None and context:
        headers[_HEADER] = context


def _task_started(task=None, **kwargs) -> None:
    carried = dict(getattr(task.request, _HEADER, None) or {}) if task is not None else {}
    task.request.cpis_log_token = _context.set({**carried, "task": task.name})


def _task_finished(task=None, **kwargs) -> None:
    token = getattr(task.request, "cpis_log_token", None) if task is not None else None
    if token is not None:
        try:
            _context.reset(token)
        except ValueError:  # set in another context (eager tasks run nested)
            _context.set(None)


def connect_celery_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_before_publish, weak=False)
    task_prerun.connect(_task_started, weak=False)
    task_postrun.connect(_task_finished, weak=False)
