"""bench.check: the check journey over HTTP at national scale, beside a bare one-query view.

1. a database of its own (`cpis_bench`, or BENCH_DATABASE): 150,000 plans at 20 LAs and
   1,000,000 visits, bulk-loaded with COPY (plans are kept between runs, visits reloaded);
2. gunicorn as docker-compose runs it (`gunicorn cpis.wsgi`, sync workers, production
   settings, Redis as cache and broker) with `bench.settings` adding the bare view;
3. 16 concurrent clients, in alternating rounds: the bare view (no session: exactly one
   query), and the check journey as a signed-in clinician (2FA used, trained): POST /check/
   with a fresh form token, nine in ten NHS numbers of children on plans (alert, visit,
   notification), one in ten not; then each alone with one client;
   and the same check through the FHIR API (GET /fhir/R4/CareTeam with the clinician's token);
4. prints the throughputs, each check's ratio to the bare view, their p50/p95/p99 latency, and
   the CPU each request cost the web server, PostgreSQL and the load generator (the machine is
   saturated, so these add up to the throughput).

Goal (SPEC 4): ratio <= 4, p95 < 50 ms. Numbers are only comparable within one run.
Knobs (environment, bench only): BENCH_DATABASE, BENCH_REDIS_URL (default Redis DB 7, flushed
afterwards), BENCH_CLIENTS (16), BENCH_WORKERS (4, as docker-compose), BENCH_SECONDS (20),
BENCH_PORT (8765). Run just this one with `make bench` or `python -m bench check`.
"""

import http.client
import itertools
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.utils import timezone

from bench._database import bench_database, conninfo, database_ensure

PLANS = 150_000
VISITS = 1_000_000
LOCAL_AUTHORITIES = 20
CARE_SETTINGS = 5
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 16))
WORKERS = int(os.environ.get("BENCH_WORKERS", 4))
WARM_UP = 3.0
DURATION = float(os.environ.get("BENCH_SECONDS", 20))
ROUNDS = 4
PORT = int(os.environ.get("BENCH_PORT", 8765))
DATABASE = os.environ.get("BENCH_DATABASE", "cpis_bench")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
ON_PLAN_SHARE = 0.9


def _valid_nhs_numbers(count: int, start: int = 0) -> list[str]:
    """`count` valid NHS numbers in the 999 test range (never a real person's)."""
    from core.nhs_numbers import nhs_test_numbers

    return list(itertools.islice(nhs_test_numbers(start), count))


def _organisations():
    from accounts.models import Organisation, OrganisationKind, SettingType

    las = []
    for i in range(LOCAL_AUTHORITIES):
        la, _ = Organisation.objects.get_or_create(
            ods_code=f"BLA{i:03d}",
            defaults=dict(
                name=f"Bench Council {i}",
                kind=OrganisationKind.LOCAL_AUTHORITY,
                office_hours_phone="0113 496 0001",
                emergency_duty_phone="0113 496 0999",
            ),
        )
        las.append(la)
    settings_ = []
    for i in range(CARE_SETTINGS):
        cs, _ = Organisation.objects.get_or_create(
            ods_code=f"BCS{i:02d}",
            defaults=dict(
                name=f"Bench Hospital {i} Emergency Department",
                kind=OrganisationKind.CARE_SETTING,
                setting_type=SettingType.ED,
                phone="0113 496 0100",
            ),
        )
        settings_.append(cs)
    return las, settings_


def _load(db: dict, children: list[str], las, care_settings, database: str | None = None) -> None:
    """Plans (once) and visits (every run, so each run starts from the same history)."""
    from plans.models import PlanChangeSource

    today = timezone.localdate()
    now = timezone.now()
    with psycopg.connect(conninfo(db, database or DATABASE), autocommit=True) as conn:
        plan_count = conn.execute("SELECT count(*) FROM plans_plan").fetchone()[0]
        if plan_count != PLANS:
            print(f"loading {PLANS:,} plans ...", flush=True)
            conn.execute("TRUNCATE plans_plan CASCADE")
            columns = (
                "organisation_id, nhs_number, family_name, given_names, date_of_birth, plan_type, start_date, "
                "end_date, expected_due_date, la_reference, withdrawn, created_by_name, created_source, "
                "created_at, updated_at"
            )
            with conn.cursor().copy(f"COPY plans_plan ({columns}) FROM STDIN") as copy:
                written = 0
                for i, number in enumerate(children):
                    la = las[i % len(las)].pk
                    plan_type, due, end = "CPP", None, None
                    if i % 13 == 0:
                        plan_type, due = "UCPP", today + timedelta(days=30 + i % 200)
                    elif i % 7 == 0:
                        plan_type = "LAC"
                    if i % 5 == 0 and plan_type != "UCPP":
                        end = today - timedelta(days=i % 300)
                    dob = today - timedelta(days=(25 if plan_type == "UCPP" else 1 + i % 17) * 365 + i % 300)
                    start = today - timedelta(days=400 + i % 700)
                    rows = [(la, number, f"Family{i}", f"Given{i}", dob, plan_type, start, end, due, "", False)]
                    # Some children are also known to a second LA (a second notification).
                    if written + len(children) - i < PLANS and plan_type != "UCPP":
                        other = las[(i + 1) % len(las)].pk
                        rows.append(
                            (other, number, f"Family{i}", f"Given{i}", dob, "LAC", start, None, None, "", False)
                        )
                    for row in rows:
                        if written < PLANS:
                            copy.write_row((*row, "Bench loader", PlanChangeSource.SYSTEM, now, now))
                            written += 1
        print(f"loading {VISITS:,} visits ...", flush=True)
        conn.execute("TRUNCATE attendances_visit, notifications_notification, audit_auditevent CASCADE")
        columns = "nhs_number, arrived_at, care_setting_id, checked_by_name, checked_by_role, recorded_at"
        with conn.cursor().copy(f"COPY attendances_visit ({columns}) FROM STDIN") as copy:
            written, k = 0, 0
            while written < VISITS:
                # Child k has k mod 26 visits: many short histories, some at the 25 limit and over.
                for j in range(min(k % 26, VISITS - written)):
                    arrived = now - timedelta(days=j * 9 + 1, minutes=k % 600)
                    copy.write_row(
                        (
                            children[k],
                            arrived,
                            care_settings[(j + k) % len(care_settings)].pk,
                            "Bench Clinician",
                            "clinician",
                            arrived,
                        )
                    )
                    written += 1
                k += 1
        conn.execute("VACUUM ANALYZE plans_plan")
        conn.execute("VACUUM ANALYZE attendances_visit")


def _clinician_cookie(care_setting) -> str:
    """A signed-in clinician's session (password and 2FA done, trained), as the login makes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import Membership, Role, TrainingRecord, User

    user, _ = User.objects.get_or_create(
        email="bench.clinician@bench.example", defaults={"full_name": "Bench Clinician"}
    )
    Membership.objects.get_or_create(user=user, organisation=care_setting, role=Role.CLINICIAN)
    if not user.training_records.filter(expires_on__gte=timezone.localdate()).exists():
        TrainingRecord.objects.create(user=user, course="Bench", completed_on=timezone.localdate())
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="Bench", defaults={"confirmed": True})
    client = Client()
    client.force_login(user, backend="accounts.backends.SessionUserBackend")
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session["login_time"] = session["last_activity"] = int(time.time())
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@contextmanager
def _gunicorn(db: dict, database: str | None = None, extra_env: dict[str, str] | None = None) -> Iterator[int]:
    # The database the sessions above were made in: read at the call, not at import, as the
    # other benches point DATABASE at their own.
    database = database or DATABASE
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": conninfo(db, database),
        "REDIS_URL": REDIS,
        "CELERY_BROKER_URL": REDIS,
        # The sessions made above are signed with this process's key.
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_BIND": f"127.0.0.1:{PORT}",
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_ACCESS_LOG": str(Path(settings.BASE_DIR) / "var" / "bench-gunicorn-access.log"),
        # The per-token rate limit would otherwise be what this measures.
        "FHIR_RATE_LIMIT_PER_MINUTE": "100000000",
        # The bench is one user checking thousands of children: the insider limit would stop it.
        "CHECK_RATE_LIMIT_PER_HOUR": "0",
        # A bench's own knobs over these (bench.soak turns the insider limit back on).
        **(extra_env or {}),
    }
    log = Path(settings.BASE_DIR) / "var" / "bench-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            # As docker-compose runs it: sync workers, an access log (paths only, never child data).
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:cpis.gunicorn",
                "cpis.wsgi",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if _request("GET", "/bench/bare/")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"gunicorn did not start; see {log}")
                time.sleep(0.5)
            yield server.pid
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker still busy with a slow page: no stray server
                server.kill()
                server.wait(timeout=30)


def _request(method: str, path: str, body: str | None = None, headers: dict | None = None, timeout: float = 30):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Host": f"127.0.0.1:{PORT}", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Set-Cookie") or ""
    finally:
        conn.close()


def _drive(make_request, *, seconds: float, clients: int = CLIENTS) -> tuple[int, int, list[float], float]:
    """`clients` threads send requests back to back for `seconds`; returns ok, errors, latencies (s)."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(index: int):
        rng = random.Random(index)  # noqa: S311 - load generation, not security
        request = make_request(rng)
        mine, failed = [], 0
        while time.monotonic() < stop:
            started = time.perf_counter()
            status = request()
            elapsed = time.perf_counter() - started
            if status == 200:
                mine.append(elapsed)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies), errors[0], latencies, time.monotonic() - began


def _bare_request(rng):
    return lambda: _request("GET", "/bench/bare/")[0]


def _check_request_factory(session_cookie: str, on_plan: list[str], not_on_plan: list[str]):
    def make(rng):
        status, body, set_cookie = _request("GET", "/check/", headers={"Cookie": session_cookie})
        assert status == 200, f"check form answered {status}"
        csrf_cookie = re.search(r"csrftoken=([^;]+)", set_cookie)[1]
        csrf_field = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1].decode()
        headers = {
            "Cookie": f"{session_cookie}; csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        }

        def request():
            numbers = on_plan if rng.random() < ON_PLAN_SHARE else not_on_plan
            body = urlencode(
                {"csrfmiddlewaretoken": csrf_field, "nhs_number": rng.choice(numbers), "check_token": str(uuid.uuid4())}
            )
            return _request("POST", "/check/", body=body, headers=headers)[0]

        return request

    return make


def _api_token(care_setting) -> str:
    from accounts.models import User
    from fhir.services import api_token_issue

    user = User.objects.get(email="bench.clinician@bench.example")
    return api_token_issue(user=user, organisation=care_setting, name="Bench", valid_days=1)[1]


def _fhir_request_factory(token: str, on_plan: list[str], not_on_plan: list[str]):
    def make(rng):
        headers = {"Authorization": f"Bearer {token}", "IsUnscheduledAccessEvent": "true"}

        def request():
            numbers = on_plan if rng.random() < ON_PLAN_SHARE else not_on_plan
            query = urlencode({"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{rng.choice(numbers)}"})
            # Headers of its own: the offered-load bench sends one request on many threads at once.
            return _request("GET", f"/fhir/R4/CareTeam?{query}", headers={**headers, "TraceID": str(uuid.uuid4())})[0]

        return request

    return make


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time used so far by the web server (gunicorn and its workers), PostgreSQL and this
    load generator: where a journey's cost lands when the machine is saturated."""
    used = {"web server": 0.0, "PostgreSQL": 0.0, "load generator": 0.0}
    if not Path("/proc").is_dir():  # not Linux: nothing to report
        return used
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        parent, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        pid = int(entry.name)
        if pid == server_pid or parent == server_pid:
            used["web server"] += seconds
        elif name == "postgres":
            used["PostgreSQL"] += seconds
        elif pid == os.getpid():
            used["load generator"] += seconds
    return used


def _load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _report(name: str, ok: int, errors: int, elapsed: float) -> float:
    throughput = ok / elapsed
    print(f"{name:<28} {throughput:8.1f} req/s  ({ok:,} ok, {errors:,} errors, {elapsed:.1f} s)")
    return throughput


def _report_cpu(used: Counter, requests: int) -> None:
    parts = ", ".join(f"{where} {seconds / requests * 1000:.1f}" for where, seconds in used.items())
    print(f"  CPU ms per request: {parts}")


def run() -> None:
    db_settings = connections["default"].settings_dict
    database_ensure(db_settings, DATABASE)
    children = _valid_nhs_numbers(PLANS - 10_000)
    not_on_plan = _valid_nhs_numbers(5_000, start=900_000)
    with bench_database(DATABASE) as db:
        call_command("migrate", verbosity=0)
        las, care_settings = _organisations()
        started = time.monotonic()
        _load(db, children, las, care_settings)
        print(f"data ready in {time.monotonic() - started:.0f} s", flush=True)
        cookie = _clinician_cookie(care_settings[0])
        token = _api_token(care_settings[0])
        with _gunicorn(db) as server_pid:
            print(
                f"gunicorn: {WORKERS} sync workers; {CLIENTS} concurrent clients; "
                f"{DURATION:.0f} s per journey in {ROUNDS} alternating rounds; "
                f"load average before: {_load_average()}"
            )
            make_check = _check_request_factory(cookie, children, not_on_plan)
            make_fhir = _fhir_request_factory(token, children, not_on_plan)
            journeys = (("bare", _bare_request), ("check", make_check), ("fhir", make_fhir))
            # A fresh worker compiles its templates on its first page: on a loaded machine that
            # can outlast a client's timeout, so each worker gets its first pages one at a time.
            for _ in range(2 * WORKERS):
                _request("GET", "/check/", headers={"Cookie": cookie}, timeout=300)
            for _, make in journeys:
                _drive(make, seconds=WARM_UP)
            # Alternating short rounds: on a shared machine, both journeys see the same noise.
            totals = {name: [0, 0, 0.0] for name, _ in journeys}
            latencies: dict[str, list[float]] = {name: [] for name, _ in journeys}
            cpu: dict[str, Counter] = {name: Counter() for name, _ in journeys}
            for _ in range(ROUNDS):
                for name, make in journeys:
                    before = _cpu_seconds(server_pid)
                    ok, errors, lat, elapsed = _drive(make, seconds=DURATION / ROUNDS)
                    cpu[name].update(Counter(_cpu_seconds(server_pid)) - Counter(before))
                    totals[name][0] += ok
                    totals[name][1] += errors
                    totals[name][2] += elapsed
                    latencies[name] += lat
            # One client alone: what one request costs when nothing queues behind it.
            alone = {name: statistics.median(_drive(make, seconds=3, clients=1)[2]) * 1000 for name, make in journeys}
        print(f"load average after: {_load_average()} (the machine may be shared: compare ratios, not req/s)")
        bare = _report("bare one-query view", *totals["bare"])
        _report_cpu(cpu["bare"], totals["bare"][0])
        # Issue 28's goals: the web check within 4 times the bare view, FHIR within 3.
        for name, label, goal in (("check", "check (POST /check/)", 4), ("fhir", "FHIR GET CareTeam", 3)):
            throughput = _report(label, *totals[name])
            _report_cpu(cpu[name], totals[name][0])
            cuts = statistics.quantiles(latencies[name], n=100)
            print(f"  ratio bare/{name}: {bare / throughput:.2f}  (goal <= {goal})")
            print(f"  one client alone: bare p50 {alone['bare']:.1f} ms, {name} p50 {alone[name]:.1f} ms")
            print(
                f"  latency p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms (goal < 50), "
                f"p99 {cuts[98] * 1000:.1f} ms"
            )
    _broker_flush()


def _broker_flush() -> None:
    # Nothing consumes the bench's queue (no worker runs here); leave Redis DB 7 empty.
    import redis

    redis.Redis.from_url(REDIS).flushdb()
