"""The database really unreachable under gunicorn as deployed (issue 25 item 5): the FHIR API
answers 503 OperationOutcomes with Retry-After, the web the "service unavailable" page, and
both recover when the database is back.

gunicorn reaches the test database through a relay on a port of its own; stopping the relay is,
for gunicorn, the database going away: open connections are cut (as when PostgreSQL restarts or
fails over) and new ones refused. The machine's PostgreSQL is never touched.
"""

import contextlib
import json
import socket
import threading
import time

import pytest
from django.conf import settings
from django.db import connection

from fhir.services import api_token_issue
from tests.factories import PlanFactory
from tests.fhir.gunicorn import get, gunicorn
from tests.notifications.checks import unique_nhs_number
from tests.notifications.worker import free_port, wait_until

# gunicorn commits on its own connection: flushed afterwards.
pytestmark = pytest.mark.django_db(transaction=True)

NHS = "https://fhir.nhs.uk/Id/nhs-number"


class DatabaseRelay:
    """Relays TCP connections from its own port to PostgreSQL, byte for byte, until stopped;
    started `silent`, it takes connections and never answers (a host that has gone quiet)."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self._running = threading.Event()
        self._silent = False
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self, *, silent: bool = False) -> None:
        self._silent = silent
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(32)
        server.settimeout(0.1)
        self._running.set()
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        with server:
            while self._running.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                if self._silent:
                    with self._lock:
                        self._sockets.add(client)
                    continue
                try:
                    upstream = socket.create_connection(self.target)
                except OSError:
                    client.close()
                    continue
                with self._lock:
                    self._sockets |= {client, upstream}
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                self._cut(end)

    def _cut(self, end: socket.socket) -> None:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()

    def stop(self) -> None:
        """New connections are refused (nothing listens); open ones are cut."""
        self._running.clear()
        with self._lock:
            ends, self._sockets = self._sockets, set()
        for end in ends:
            self._cut(end)
        wait_until(lambda: not _accepting(self.port), timeout=10, what="the relay to stop listening")


def _accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def relay():
    db = connection.settings_dict
    relay = DatabaseRelay(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    relay.start()
    yield relay
    relay.stop()


def _outcome(response) -> dict:
    status, headers, body = response
    assert headers["Content-Type"] == "application/fhir+json; fhirVersion=4.0", (status, body[:200])
    return json.loads(body)


def test_with_the_database_unreachable_the_api_answers_503s_and_the_web_its_page(
    relay, role_user, care_setting, local_authority, client_for
):
    plan = PlanFactory(organisation=local_authority, nhs_number=unique_nhs_number())
    user = role_user("clinician")
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)
    session = client_for(user).cookies[settings.SESSION_COOKIE_NAME].value
    web = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
    api = {"Authorization": f"Bearer {raw}", "TraceID": "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"}
    search = f"/fhir/R4/CareTeam?patient:identifier={NHS}|{plan.nhs_number}"
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@127.0.0.1:{relay.port}/{db['NAME']}"

    with gunicorn(database_url=database_url) as port:
        # Up: a check, and the signed-in home page, on connections gunicorn keeps (CONN_MAX_AGE).
        up = _outcome(get(port, search, api))
        assert up["total"] == 1
        care_team_id = up["entry"][0]["resource"]["id"]
        assert get(port, "/", web)[0] == 200

        relay.stop()
        for target in (
            search,
            f"/fhir/R4/AuditEvent?patient:identifier={NHS}|{plan.nhs_number}",
            f"/fhir/R4/CareTeam/{care_team_id}",
            "/fhir/R4/CareTeam?patient:identifier=not-a-number",  # refused, and the refusal's audit fails
        ):
            for attempt in range(2):  # the kept connection cut, then a new one refused
                response = get(port, target, api)
                assert response[0] == 503, (target, attempt, response[2][:300])
                issue = _outcome(response)["issue"][0]
                assert issue["code"] == "transient"
                assert issue["details"]["coding"][0]["code"] == "SERVICE_UNAVAILABLE"
                assert response[1]["Retry-After"] == "30"
                assert response[1]["TraceID"] == api["TraceID"]
        # The CapabilityStatement needs no database.
        assert get(port, "/fhir/R4/metadata")[0] == 200

        status, headers, body = get(port, "/", web)
        assert status == 503 and headers["Retry-After"] == "30"
        assert headers["Content-Type"].startswith("text/html")
        assert b"Sorry, the service is unavailable" in body and b"emergency duty team" in body

        relay.start()
        wait_until(lambda: get(port, search, api)[0] == 200, timeout=30, what="the API to recover")
        assert get(port, "/", web)[0] == 200


def test_with_the_database_host_not_answering_the_api_answers_503_once_the_connect_timeout_passes(
    relay, role_user, care_setting, local_authority
):
    """A host that has gone quiet (nothing refuses, nothing answers): each new connection gives up
    after DATABASE_CONNECT_TIMEOUT, and the request is answered 503 long before gunicorn's own
    timeout (60 s) would kill the worker mid-request."""
    plan = PlanFactory(organisation=local_authority, nhs_number=unique_nhs_number())
    user = role_user("clinician")
    _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)
    api = {"Authorization": f"Bearer {raw}"}
    search = f"/fhir/R4/CareTeam?patient:identifier={NHS}|{plan.nhs_number}"
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@127.0.0.1:{relay.port}/{db['NAME']}"
    # A new connection for every request, so each one meets the quiet host.
    env = {"DATABASE_CONN_MAX_AGE": "0", "DATABASE_CONNECT_TIMEOUT": "2"}
    with gunicorn(database_url=database_url, env=env) as port:
        assert get(port, search, api)[0] == 200
        relay.stop()
        relay.start(silent=True)
        started = time.monotonic()
        response = get(port, search, api)
        waited = time.monotonic() - started
        assert response[0] == 503, response[2][:300]
        assert _outcome(response)["issue"][0]["details"]["coding"][0]["code"] == "SERVICE_UNAVAILABLE"
        assert response[1]["Retry-After"] == "30"
        # The connect timeout (2 s), with room for a loaded machine; far under gunicorn's 60 s.
        assert waited < 30, waited
