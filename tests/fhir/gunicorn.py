"""Gunicorn with our configuration (cpis/gunicorn.py) on a free port, for tests of what reaches
the API through a real HTTP server: request-line limits, outages of the database."""

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from tests.notifications.worker import free_port, subprocess_database_url, wait_until


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@contextmanager
def gunicorn(*, database_url: str | None = None, env: dict[str, str] | None = None) -> Iterator[int]:
    """Serves the application with one worker on the test database (or `database_url`);
    yields the port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
            "DATABASE_URL": database_url or subprocess_database_url(),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_ACCESS_LOG": os.devnull,
            **(env or {}),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(port), timeout=60, what="gunicorn to listen")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # A worker stuck in a request outlives the graceful stop: the test must not leak it.
            process.kill()
            process.wait(timeout=10)


def get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET of `target` (path and query, sent as given): status, headers, body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", target, headers={"Host": "localhost", **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()
