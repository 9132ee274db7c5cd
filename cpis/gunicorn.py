"""Gunicorn settings (`gunicorn -c python:cpis.gunicorn cpis.wsgi`), as docker-compose runs it.

Every value can be set from the environment (README, "Configuration").
"""

import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers, each serving one request at a time: a check is a few milliseconds of
# database work, and a worker per core and a half keeps both busy without thrashing.
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# A worker silent this long is killed and replaced; far above the slowest page (an audit
# export, a large plan file's upload), far below a client's patience.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On a restart or deploy, requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Recycle each worker after this many requests (any slow leak is bounded), at staggered times
# so they never all restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# The longest request line read (method, path, query string): 8190, the most gunicorn allows,
# twice its default, so a FHIR search's long query string reaches the API and is answered as
# FHIR (a 414 OperationOutcome past 4096 characters, fhir/interactions.py). Past this, gunicorn
# itself answers 414 with its own page, which no setting changes (docs/fhir.md).
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
# The workers' heartbeat files in memory: on a container's overlay or a busy disk, the
# heartbeat's fchmod can block and gunicorn would kill healthy workers.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else None)  # noqa: S108
# The control socket (gunicornc) would be one fixed path per user: off unless asked for, so
# two instances on one host never fight over it.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "") == ""
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# The path without the query string (%(U)s, never %(r)s or %(q)s): the FHIR API, compatible
# with the national one, carries the NHS number in its query string, and logs hold no child data.
# The client's address is the one our trusted proxy reported (`audit.services.client_ip`, put
# in the WSGI environ by cpis.logs.RequestContextMiddleware; "-" for a request Django never
# saw), with the proxy's own address beside it; the request id matches the application's logs.
# The size is followed by a word: "401 123 4567ms" would read as a spaced NHS number (3-3-4
# digits) and be redacted, losing the status of a slow request.
access_log_format = (
    '%({cpis.client_ip}e)s via %(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s bytes %(M)sms'
    " request_id=%({cpis.request_id}e)s"
)
# Gunicorn's error log names a crashed request by its full URI; this logger redacts it.
logger_class = "cpis.gunicorn_logging.RedactingLogger"


def on_starting(server):
    # django-prometheus in multiprocess mode: each worker writes its metrics to files here,
    # and /metrics adds them up. Emptied at each start, so a dead worker's counts do not linger.
    path = os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", os.path.join(worker_tmp_dir or tempfile.gettempdir(), f"cpis-metrics-{os.getpid()}")
    )
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    # Django, its apps and their modules are loaded by now and live as long as the worker: moved
    # out of the collector's reach, so a page that allocates many objects (the national report
    # decodes tens of thousands of rows) does not pay for scanning them over and over. Measured
    # in process: the LA reports took 160 ms with the collector on, 90 ms with it off.
    import gc

    gc.freeze()
