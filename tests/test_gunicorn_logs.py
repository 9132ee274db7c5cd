"""The access log of gunicorn, run with our config, never holds a query string (NHS numbers)."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings

from tests.notifications.worker import subprocess_database_url

# transactional_db: gunicorn commits on its own connection (the refused request is audited), and
# only a flush afterwards keeps that row out of later tests.
pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


QUERY = "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"


def _serve_once(tmp_path, app: str, *, extra_env=None) -> tuple[str, str]:
    """Runs gunicorn with our config, makes one FHIR check with an NHS number in its query
    string, and returns (access log, error log)."""
    port, access, errors = _free_port(), tmp_path / "access.log", tmp_path / "error.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_ACCESS_LOG": str(access),
        # The test database: the tables exist there (the request is refused with a 401).
        "DATABASE_URL": subprocess_database_url(),
        **(extra_env or {}),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "--error-logfile", str(errors), app],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/fhir/R4/CareTeam?{QUERY}"
    invitation = f"http://127.0.0.1:{port}/invitation/SecretInvitationToken123/"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)  # noqa: S310 - our own local server
            except urllib.error.HTTPError:
                break  # 401 without a token, or 500: the request was served and logged
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        # An unknown invitation: refused, and logged.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(invitation, timeout=5)  # noqa: S310 - our own local server
    finally:
        server.terminate()
        server.wait(timeout=10)
    return access.read_text(), errors.read_text()


def test_access_log_has_paths_but_no_query_strings(tmp_path):
    written, _ = _serve_once(tmp_path, "cpis.wsgi")
    assert '"GET /fhir/R4/CareTeam HTTP/1.1" 401' in written
    assert "9434765919" not in written and "patient:identifier" not in written
    # Invitation (and password-reset) tokens are in the path, and redacted from it.
    assert "/invitation/[redacted]/" in written and "SecretInvitationToken123" not in written


def test_a_crash_below_django_logs_no_query_string_or_nhs_number(tmp_path):
    access, errors = _serve_once(tmp_path, "tests.crashing_wsgi")
    assert " 500 " in access
    # The crash itself is still reported, and where it happened.
    assert "Error handling request" in errors and "RuntimeError" in errors and "/fhir/R4/CareTeam" in errors
    for written in (access, errors):
        assert "9434765919" not in written and "patient:identifier" not in written
