"""The access log of gunicorn, run with our config, never holds a query string (NHS numbers)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings

from tests.notifications.worker import subprocess_database_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# transactional_db: gunicorn commits on its own connection (the refused request is audited), and
# only a flush afterwards keeps that row out of later tests.
def test_access_log_has_paths_but_no_query_strings(tmp_path, transactional_db):
    port, log = _free_port(), tmp_path / "access.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
        "DATABASE_URL": subprocess_database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_ACCESS_LOG": str(log),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/fhir/R4/CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)  # noqa: S310 - our own local server
            except urllib.error.HTTPError:
                break  # 401 without a token: the request was served and logged
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=10)
    written = log.read_text()
    assert '"GET /fhir/R4/CareTeam HTTP/1.1" 401' in written
    assert "9434765919" not in written and "patient:identifier" not in written
