"""The access log of gunicorn, run with our config, never holds a query string (NHS numbers), and
a request cannot write a line of its own into it."""

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


def _gunicorn(tmp_path, app: str, *, port: int, extra_env=None, extra_args=()) -> subprocess.Popen:
    """Gunicorn with our config, logging to access.log and error.log in tmp_path."""
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
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
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:cpis.gunicorn",
            "--error-logfile",
            str(errors),
            *extra_args,
            app,
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _serve_once(tmp_path, app: str, *, extra_env=None) -> tuple[str, str]:
    """Runs gunicorn with our config, makes one FHIR check with an NHS number in its query
    string, and returns (access log, error log)."""
    port, access, errors = _free_port(), tmp_path / "access.log", tmp_path / "error.log"
    server = _gunicorn(tmp_path, app, port=port, extra_env=extra_env)
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


def _raw_request(port: int, request: bytes) -> bytes:
    """Sends `request` as it is (no client library would send these bytes) and returns the
    status line; waits for the server to come up."""
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with connection:
        connection.sendall(request)
        return connection.makefile("rb").readline()


_FORGED = "203.0.113.66 via 203.0.113.66 [07/Dec/2026:14:00:00 +0000]"
# Each: the request target, then extra header lines; the log must hold one line for each.
_HOSTILE_REQUESTS = [
    (b"/livez%0d%0a" + _FORGED.replace(" ", "%20").encode() + b"%20%22GET%20/admin/%20HTTP/1.1%22%20200", b""),
    (b"/livez%00nul%1b[2J%07%7f%c2%85%e2%80%a8end", b""),
    (b"/livez?a=%0d%0a" + _FORGED.replace(" ", "%20").encode(), b""),
    (b"/livez", b"User-Agent: agent\x85" + _FORGED.encode() + b"\r\nReferer: http://r.example/\xe2\x80\xa8x\r\n"),
    (b"/livez\\x0d\\x0a", b""),
    # Raw control bytes: gunicorn refuses these itself (400) and writes no access line for them.
    (b"/livez\x00\x1b[2J", b""),
    (b"/livez?a=\r" + _FORGED.encode(), b""),
    (b"/livez", b"User-Agent: agent\x1b[2J\x07\r\nReferer: http://r.example/\x0b\x00\r\n"),
]


def test_hostile_paths_and_headers_cannot_forge_or_break_access_log_lines(tmp_path):
    from cpis.gunicorn import access_log_format

    port = _free_port()
    # Our format, and the attacker-chosen atoms it leaves out, to show each atom is escaped.
    log_format = access_log_format + ' q="%(q)s" r="%(r)s" agent="%(a)s" referer="%(f)s"'
    server = _gunicorn(tmp_path, "cpis.wsgi", port=port, extra_args=("--access-logformat", log_format))
    try:
        statuses = [
            _raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
            for target, headers in _HOSTILE_REQUESTS
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert [status.split()[1] for status in statuses] == [b"404", b"404", b"200", b"200", b"404"] + [b"400"] * 3
    written = (tmp_path / "access.log").read_bytes().decode()
    lines = written.split("\n")
    assert lines[-1] == "" and len(lines[:-1]) == 5, written
    for line in lines[:-1]:
        # Every line is one of ours, and nothing in it a terminal or a log reader acts on.
        assert line.startswith("127.0.0.1 via 127.0.0.1 ["), line
        assert not [c for c in line if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029"], line
    assert "/livez\\x0d\\x0a" + _FORGED + ' \\"GET /admin/' in written
    # The path as gunicorn decodes it (UTF-8), the headers as they came (Latin-1).
    assert "/livez\\x00nul\\x1b[2J\\x07\\x7f\\x85\\u2028end" in written
    assert 'agent="agent\\x85' + _FORGED in written and 'referer="http://r.example/\u00e2\\x80\u00a8x"' in written
    # An escape in a line is always ours: a path spelling one out has its backslashes doubled.
    assert "/livez\\\\x0d\\\\x0a " in written


class _Browser:
    """Just enough of a browser for our own gunicorn: the session and CSRF cookies, a form's
    CSRF token, and redirects seen (not followed) so the test can read every URL it is sent to."""

    def __init__(self, base: str, session_cookie: str):
        self.base = base
        self.cookies = {settings.SESSION_COOKIE_NAME: session_cookie}
        self.urls: list[str] = []

    def request(self, path: str, data: dict | None = None) -> tuple[int, str, str]:
        import http.client
        from urllib.parse import urlencode, urlsplit

        self.urls.append(path)
        connection = http.client.HTTPConnection(urlsplit(self.base).netloc, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if data is not None:
            body = urlencode({**data, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request("POST" if data is not None else "GET", path, body=body, headers=headers)
        response = connection.getresponse()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, response.getheader("Location") or "", response.read().decode()

    def submit(self, path: str, data: dict) -> tuple[str, str]:
        """POSTs a form as a browser would and opens where it redirects; (URL, page)."""
        status, location, _ = self.request(path, data)
        assert status == 302, (path, status)
        status, _, page = self.request(location)
        assert status == 200, (location, status)
        return location, page


def test_searches_by_nhs_number_keep_it_out_of_every_url_and_the_access_log(tmp_path):
    """The plan search and the audit search by NHS number, through gunicorn with our config: the
    number (however written) is in no URL a browser is sent to, and no line of the access log;
    the other criteria are in the URL, so the results can be bookmarked."""
    from django.test import Client

    from accounts.models import Role
    from tests.conftest import signed_in
    from tests.factories import OrganisationFactory, PlanFactory, user_with_role

    la = OrganisationFactory(local_authority=True, name="Northshire Council", ods_code="LA901")
    plan = PlanFactory(organisation=la, family_name="Logged")
    number = plan.nhs_number
    social_worker = user_with_role(Role.SOCIAL_WORKER, la)
    national = OrganisationFactory(national=True, ods_code="X26")
    admin = user_with_role(Role.NATIONAL_ADMIN, national)
    cookies = {
        user: signed_in(Client(), user).cookies[settings.SESSION_COOKIE_NAME].value for user in (social_worker, admin)
    }
    port = _free_port()
    server = _gunicorn(tmp_path, "cpis.wsgi", port=port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/livez", timeout=5)  # noqa: S310 - our own local server
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        worker = _Browser(base, cookies[social_worker])
        worker.request("/plans/")  # the CSRF cookie
        plans_url, plans_page = worker.submit(
            "/plans/", {"q": f"{number[:3]} {number[3:6]} {number[6:]}", "plan_type": "CPP", "status": ""}
        )
        auditor = _Browser(base, cookies[admin])
        auditor.request("/audit/")
        audit_url, audit_page = auditor.submit("/audit/", {"nhs_number": number, "action": "plan_list_viewed"})
        csv_status, _, csv_body = auditor.request("/audit/export.csv?" + audit_url.split("?", 1)[1])
    finally:
        server.terminate()
        server.wait(timeout=10)
    written = (tmp_path / "access.log").read_text()

    assert "LOGGED" in plans_page  # the search found the child
    assert "plan_type=CPP" in plans_url and "child=" in plans_url
    assert "action=plan_list_viewed" in audit_url and "child=" in audit_url
    assert csv_status == 200 and number in csv_body  # the export of the same search, by NHS number
    assert audit_page.count('data-event="') == 1
    spellings = (number, f"{number[:3]} {number[3:6]} {number[6:]}", f"{number[:3]}+{number[3:6]}+{number[6:]}",
                 f"{number[:3]}%20{number[3:6]}%20{number[6:]}")  # fmt: skip
    for url in worker.urls + auditor.urls:
        assert not any(s in url for s in spellings), url
    assert '"POST /plans/ HTTP/1.1" 302' in written and '"GET /audit/ HTTP/1.1" 200' in written
    assert not any(s in written for s in spellings)
