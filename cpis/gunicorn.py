"""Gunicorn settings (`gunicorn -c python:cpis.gunicorn cpis.wsgi`), as docker-compose runs it."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# The path without the query string (%(U)s, never %(r)s or %(q)s): the FHIR API, compatible
# with the national one, carries the NHS number in its query string, and logs hold no child data.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# Gunicorn's error log names a crashed request by its full URI; this logger redacts it.
logger_class = "cpis.gunicorn_logging.RedactingLogger"
