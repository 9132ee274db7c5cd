"""The service as deployed, driven in Chromium: the production-parity journey.

Everything as the Dockerfile and docker-compose.yml run it, by the same commands:
- a database and its roles made by `deploy/postgres/init-roles.sh`; `migrate` as the owner,
  web, worker and beat as the application role (no DDL; the audit log read and append only);
- `collectstatic` with the production storage, DEBUG off, the production settings module;
- every application service of docker-compose.yml (gunicorn, the worker(s), beat) started from
  its `command` there, on a Redis server of our own;
- a TLS-terminating proxy in front of gunicorn that sets X-Forwarded-Proto and X-Forwarded-For.

The journey fails on any 5xx it did not cause on purpose, any browser console error or CSP
violation, and any static asset not served under a hashed name with a long cache lifetime.
"""

import base64
import http.client
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import urllib.parse
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import yaml
from django.conf import settings
from django.db import connection
from django_otp.oath import totp
from playwright.sync_api import expect
from psycopg import sql

from tests.browser.conftest import assert_accessible, screenshot, virtual_authenticator
from tests.notifications.worker import RedisServer, free_port, wait_until
from tests.plans.helpers import csv_bytes, days_ago, row

pytestmark = [pytest.mark.worker]

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DEMO_PASSWORD = "demo-password-2026"
DEMO_TOTP_KEY = base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")  # README "Demo"
# A cold start of gunicorn, three Celery processes and Chromium on a busy 2-core machine.
START_TIMEOUT = 120
# Fonts come from assets.nhs.uk, which this offline machine cannot reach; nothing else may fail.
OFFLINE_HOSTS = {"assets.nhs.uk"}
HASHED_STATIC = re.compile(r"^/static/.+\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
YEAR = 365 * 24 * 3600


class Database:
    """A database and its owner, application and backup roles, made by the deployment's own script."""

    def __init__(self):
        suffix = uuid.uuid4().hex[:8]
        self.name, self.owner, self.app = f"cpis_parity_{suffix}", f"cpis_owner_{suffix}", f"cpis_app_{suffix}"
        self.backup = f"cpis_backup_{suffix}"
        db = connection.settings_dict
        self.host, self.port, self.superuser = db["HOST"] or "127.0.0.1", str(db["PORT"] or 5432), db["USER"]

    def url(self, role: str) -> str:
        return f"postgres://{role}:unused-with-trust-auth@{self.host}:{self.port}/{self.name}"

    def create(self) -> None:
        subprocess.run(
            ["sh", str(ROOT / "deploy" / "postgres" / "init-roles.sh")],
            env={
                "PATH": "/usr/bin:/bin",
                "PGHOST": self.host,
                "PGPORT": self.port,
                "POSTGRES_USER": self.superuser,
                "CPIS_DB": self.name,
                "CPIS_OWNER": self.owner,
                "CPIS_APP": self.app,
                "CPIS_BACKUP": self.backup,
                "CPIS_OWNER_PASSWORD": secrets.token_hex(8),
                "CPIS_APP_PASSWORD": secrets.token_hex(8),
                "CPIS_BACKUP_PASSWORD": secrets.token_hex(8),
            },
            check=True,
            capture_output=True,
        )

    def superuser_connection(self) -> psycopg.Connection:
        return psycopg.connect(host=self.host, port=self.port, dbname=self.name, user=self.superuser, autocommit=True)

    def drop(self) -> None:
        with psycopg.connect(
            host=self.host, port=self.port, dbname="postgres", user=self.superuser, autocommit=True
        ) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
            for role in (self.app, self.backup, self.owner):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


class TLSProxy:
    """What a reverse proxy does for us: terminate TLS, say so (X-Forwarded-Proto), append the
    client's address to X-Forwarded-For, and pass the request on to gunicorn unchanged."""

    def __init__(self, *, upstream_port: int, workdir: Path):
        self.port = free_port()
        cert, key = workdir / "proxy.crt", workdir / "proxy.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                forwarded = self.headers.get("X-Forwarded-For")
                headers["X-Forwarded-For"] = (
                    f"{forwarded}, {self.client_address[0]}" if forwarded else self.client_address[0]
                )
                headers["X-Forwarded-Proto"] = "https"
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = do_HEAD = _forward

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _as_run_here(command: list[str], workdir: Path) -> list[str]:
    """A compose `command`, run with this interpreter and with its files in our own folder."""
    head, *rest = command
    program = [sys.executable] if head == "python" else [sys.executable, "-m", head]
    return program + [arg.replace("/tmp/", f"{workdir}/") for arg in rest]


class Deployment:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.database = Database()
        self.redis = RedisServer(workdir)
        self.gunicorn_port = free_port()
        self.proxy = TLSProxy(upstream_port=self.gunicorn_port, workdir=workdir)
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self, **extra) -> dict:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            # As the Dockerfile sets it: the one settings module for every deployment.
            "DJANGO_SETTINGS_MODULE": "cpis.settings.base",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost",
            "CSRF_TRUSTED_ORIGINS": self.proxy.url,
            "SITE_URL": self.proxy.url,
            "STATIC_ROOT": str(self.workdir / "static"),
            "DATABASE_URL": self.database.url(self.database.app),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis.port}/1",
            "TRUSTED_PROXIES": "127.0.0.1/32",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "GUNICORN_BIND": f"127.0.0.1:{self.gunicorn_port}",
            "GUNICORN_WORKERS": "2",
            **extra,
        }

    def manage(self, *args: str, **env) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(**env), check=True, capture_output=True
        )

    def start(self) -> None:
        self.database.create()
        self.redis.start()
        # The image's build step, then compose's one-off migrate service (as the owner).
        self.manage("collectstatic", "--no-input", "-v0")
        migrate = COMPOSE["services"]["migrate"]
        self.manage(
            *_as_run_here(migrate["command"], self.workdir)[2:],
            DATABASE_URL=self.database.url(self.database.owner),
            DATABASE_APP_ROLE=migrate["environment"]["DATABASE_APP_ROLE"].replace("cpis_app", self.database.app),
            DATABASE_BACKUP_ROLE=migrate["environment"]["DATABASE_BACKUP_ROLE"].replace(
                "cpis_backup", self.database.backup
            ),
        )
        self.manage("seed_demo", "--force", DEMO="true")
        for name, service in COMPOSE["services"].items():
            if "build" in service and name != "migrate":
                log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 - the child keeps it open
                self.processes[name] = subprocess.Popen(
                    _as_run_here(service["command"], self.workdir),
                    cwd=ROOT,
                    env=self.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        self.proxy.start()
        wait_until(self.web_healthy, timeout=START_TIMEOUT, what="web's compose health check")

    def healthcheck(self, service: str) -> bool:
        """The service's own compose health check, run here (pointed at our gunicorn's port)."""
        kind, *test = COMPOSE["services"][service]["healthcheck"]["test"]
        if kind == "CMD-SHELL":
            # `$$` is compose's escaped `$`; HOSTNAME is the container's, the %h of the worker's name.
            (line,) = test
            line = line.replace("$$HOSTNAME", socket.gethostname())
            test = shlex.split(line)
        else:
            assert kind == "CMD", kind
        command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{self.gunicorn_port}") for part in test]
        result = subprocess.run(
            _as_run_here(command, self.workdir), cwd=ROOT, env=self.env(), capture_output=True, timeout=60
        )
        return result.returncode == 0

    def web_healthy(self) -> bool:
        return self.healthcheck("web")

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text()

    def stop(self) -> None:
        self.proxy.stop()
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.stop()
        self.database.drop()


@pytest.fixture
def deployment(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the proxy's certificate")
    deployed = Deployment(tmp_path)
    try:
        deployed.start()
        yield deployed
    finally:
        deployed.stop()


class Watch:
    """Everything the browser saw that would be wrong in production."""

    def __init__(self, origin: str):
        self.origin = origin
        self.problems: list[str] = []
        self.static_served = 0
        self.expected_errors: set[str] = set()

    def attach(self, context) -> None:
        context.on("response", self._response)
        context.on("console", self._console)
        context.on("requestfailed", self._failed)

    def _ours(self, url: str) -> bool:
        return url.startswith(self.origin)

    def _response(self, response):
        url = response.url
        if not self._ours(url):
            return
        path = urllib.parse.urlsplit(url).path
        if response.status >= 500 and path not in self.expected_errors:
            self.problems.append(f"{response.status} from {path}")
        if path.startswith("/static/"):
            self.static_served += 1
            cache = response.headers.get("cache-control", "")
            max_age = re.search(r"max-age=(\d+)", cache)
            if not HASHED_STATIC.match(path):
                self.problems.append(f"static asset without a hashed name: {path}")
            if not max_age or int(max_age.group(1)) < YEAR:
                self.problems.append(f"static asset cached briefly ({cache!r}): {path}")

    def _console(self, message):
        if message.type != "error":
            return
        source = urllib.parse.urlsplit(message.location.get("url") or "").hostname
        if source in OFFLINE_HOSTS:
            return
        # The browser also reports, as a console error, each error page we asked for on purpose.
        url = message.location.get("url") or ""
        if url.startswith(self.origin) and urllib.parse.urlsplit(url).path in self.expected_errors:
            return
        self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _failed(self, request):
        if urllib.parse.urlsplit(request.url).hostname not in OFFLINE_HOSTS:
            self.problems.append(f"request failed: {request.url} {request.failure}")


def _sign_in(page, email: str) -> None:
    """Password, then the authenticator code: once per user in this journey, because a code
    cannot be used twice within its 30-second step."""
    page.goto("/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    # One code per 30 s step per device; each demo user has a device of their own.
    page.get_by_label("Security code").fill(f"{totp(DEMO_TOTP_KEY):06d}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Log out").first.click()
    expect(page.get_by_label("Email address")).to_be_visible()


def _visit(page, name: str) -> None:
    assert_accessible(page)
    screenshot(page, f"parity-{name}")


def test_the_service_works_as_deployed(deployment, browser, tmp_path):
    watch = Watch(deployment.proxy.url)

    def browser_page():
        # Each person in a browser of their own, as at their own desk.
        context = browser.new_context(ignore_https_errors=True, base_url=deployment.proxy.url)
        watch.attach(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    child = row(101, family_name="Quillfeather", given_names="Marnie")
    nhs_number, child_name = child["nhs_number"], "Marnie Quillfeather"
    born = date.fromisoformat(child["date_of_birth"])

    # A plan manager uploads the LA's file; the real worker checks it, then applies it.
    plan_manager = browser_page()
    plan_manager.goto("/login/")
    _visit(plan_manager, "login")
    _sign_in(plan_manager, "plan.manager@demo.example")
    plan_manager.goto("/plans/uploads/")
    _visit(plan_manager, "upload")
    upload = tmp_path / "northshire-plans.csv"
    upload.write_bytes(csv_bytes([child, row(102, plan_type="LAC"), row(103, start_date=days_ago(-5))]))
    plan_manager.get_by_label("Upload a CSV file").set_input_files(str(upload))
    plan_manager.get_by_role("button", name="Upload and check").click()
    heading = plan_manager.get_by_role("heading", level=1)
    expect(heading).to_have_text("Check the upload", timeout=START_TIMEOUT * 1000)
    _visit(plan_manager, "upload-preview")
    plan_manager.get_by_role("button", name="Confirm and apply").click()
    expect(heading).to_have_text("Upload acknowledgement", timeout=START_TIMEOUT * 1000)
    # Accepted with a rejected row (the plan that starts in the future).
    expect(plan_manager.get_by_test_id("acknowledgement")).to_contain_text("CPF03")
    _visit(plan_manager, "upload-acknowledgement")

    # A clinician at triage signs in with 2FA and checks the child.
    page = browser_page()
    _sign_in(page, "clinician@demo.example")
    _visit(page, "clinician-home")
    page.goto("/check/")
    page.get_by_label("NHS number").fill(nhs_number)
    page.get_by_label("Day").fill(str(born.day))
    page.get_by_label("Month").fill(str(born.month))
    page.get_by_label("Year").fill(str(born.year))
    _visit(page, "check-form")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_test_id("alert-heading")).to_contain_text("Child Protection Plan")
    expect(page.get_by_test_id("alert")).to_contain_text("Northshire County Council")
    _visit(page, "check-alert")
    # A passkey behind the TLS proxy: the relying party is the public origin (SITE_URL), and
    # django-otp-webauthn's scripts come hashed from collectstatic.
    virtual_authenticator(page)
    page.goto("/account/passkeys/add/")
    page.get_by_label("Name this passkey").fill("Ward PC")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Create passkey").click()
    expect(page.get_by_test_id("passkeys")).to_contain_text("Ward PC")
    _visit(page, "passkeys")
    _sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    _sign_out(page)

    # The LA's social worker finds the notification the real worker delivered, and acknowledges it.
    page = browser_page()
    _sign_in(page, "social.worker@demo.example")

    def notification_listed() -> bool:
        page.goto("/inbox/")
        return page.get_by_role("link", name=child_name).count() > 0

    wait_until(notification_listed, timeout=START_TIMEOUT, interval=1, what="the notification in the inbox")
    _visit(page, "inbox")
    page.get_by_role("link", name=child_name).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(child_name)
    page.get_by_label("What has been done").fill("Duty social worker called the ED; visiting today.")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("main")).to_contain_text("Notification acknowledged.")
    _visit(page, "notification-acknowledged")
    page = plan_manager

    # The service's own error pages, rendered in production mode.
    watch.expected_errors.add("/no-such-page/")
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    _visit(page, "404")

    # A real fault: the database refuses the application role one table the plan list reads.
    watch.expected_errors.add("/plans/")
    with deployment.database.superuser_connection() as conn:
        conn.execute(sql.SQL("REVOKE SELECT ON plans_plan FROM {}").format(sql.Identifier(deployment.database.app)))
    try:
        response = page.goto("/plans/")
    finally:
        with deployment.database.superuser_connection() as conn:
            conn.execute(sql.SQL("GRANT SELECT ON plans_plan TO {}").format(sql.Identifier(deployment.database.app)))
    assert response.status == 500
    expect(page.get_by_role("heading", level=1)).to_have_text("Sorry, there is a problem with the service")
    _visit(page, "500")
    # Traceback to the log, with no NHS number of the page the user was on.
    assert "permission denied for table plans_plan" in deployment.log("web")
    # Web, worker and beat connect as the application role, never as the owner.
    with deployment.database.superuser_connection() as conn:
        connected = {
            user
            for (user,) in conn.execute(
                "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        }
    assert connected == {deployment.database.app}

    assert watch.static_served > 0
    assert not watch.problems, "\n".join(watch.problems)
    # Beat's own compose health check goes green once beat has published its first heartbeat.
    wait_until(lambda: deployment.healthcheck("beat"), timeout=START_TIMEOUT, interval=2, what="beat's health check")
    # And every other service's own health check passes, each worker pool answering by its name.
    for name in deployment.processes:
        assert deployment.healthcheck(name), f"{name}'s compose health check failed"
    # Nothing personal in any service's log, the e-mails the worker sent included.
    for name in deployment.processes:
        written = deployment.log(name)
        assert nhs_number not in written and child_name.split()[-1] not in written, f"{name} logged child data"
