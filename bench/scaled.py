"""bench.scaled: the check's throughput with one and with two gunicorn instances behind a reverse
proxy (Caddy, as docker-compose runs it in front of web), beside the bare one-query view, on this
machine: the figures docs/deployment.md's capacity plan rests on.

1. bench.check's database (150,000 plans, 1,000,000 visits; BENCH_DATABASE) and its clinician;
2. two gunicorns as docker-compose runs each web container (BENCH_WORKERS sync workers each), on
   ports of their own, and Caddy on a third, round robin, asking each /readyz every 5 s;
3. in alternating rounds, 16 clients (BENCH_CLIENTS): the bare view and the check straight to one
   gunicorn, then through the proxy to one gunicorn, then through the proxy to both;
4. prints each journey's req/s, its ratio to the bare view, p50/p95, and the CPU per request of
   the web servers, PostgreSQL, the proxy and the load generator.

On a machine of C cores, one instance with W workers and two with W each compete for the same
cores: the two-instance figure shows what the proxy costs and that instances share nothing, and
the CPU per check is what scales with cores (docs/deployment.md "Capacity").
Needs the `caddy` program (Debian: apt-get install caddy). `make bench scaled`, or `python -m bench scaled`.
"""

import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.core.management import call_command
from django.db import connections

from bench import check
from bench._database import bench_database, database_ensure


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _requests_to(port: int) -> Iterator[None]:
    # bench.check's request helpers address its PORT: pointed at this port for the block.
    saved = check.PORT
    check.PORT = port
    try:
        yield
    finally:
        check.PORT = saved


@contextmanager
def _gunicorn_on(db: dict, port: int) -> Iterator[int]:
    with _requests_to(port), check._gunicorn(db, extra_env={"GUNICORN_BIND": f"127.0.0.1:{port}"}) as pid:
        yield pid


@contextmanager
def _caddy(port: int, upstreams: list[int]) -> Iterator[int]:
    program = shutil.which("caddy")
    if program is None:
        raise SystemExit("bench.scaled needs caddy (apt-get install caddy)")
    workdir = Path(tempfile.mkdtemp(prefix="cpis-bench-caddy-"))
    backends = " ".join(f"127.0.0.1:{p}" for p in upstreams)
    (workdir / "Caddyfile").write_text(
        f"""{{
	admin off
	auto_https off
}}

http://127.0.0.1:{port} {{
	reverse_proxy {backends} {{
		lb_policy round_robin
		lb_try_duration 5s
		health_uri /readyz
		health_interval 5s
		health_timeout 5s
	}}
}}
"""
    )
    server = subprocess.Popen(  # noqa: S603 - fixed arguments
        [program, "run", "--config", str(workdir / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(workdir), "XDG_DATA_HOME": str(workdir)},
    )
    try:
        with _requests_to(port):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if check._request("GET", "/bench/bare/")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("caddy did not start")
                time.sleep(0.2)
            yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def _cpu(pids: dict[str, list[int]]) -> Counter:
    """CPU seconds so far: each named group of servers (and their children), PostgreSQL, us."""
    used: Counter = Counter()
    tick = os.sysconf("SC_CLK_TCK")
    owner = {pid: name for name, group in pids.items() for pid in group}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        pid, parent, seconds = int(entry.name), int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if pid in owner or parent in owner:
            used[owner.get(pid) or owner[parent]] += seconds
        elif name == "postgres":
            used["PostgreSQL"] += seconds
        elif pid == os.getpid():
            used["load generator"] += seconds
    return used


def run() -> None:
    db_settings = connections["default"].settings_dict
    database_ensure(db_settings, check.DATABASE)
    children = check._valid_nhs_numbers(check.PLANS - 10_000)
    not_on_plan = check._valid_nhs_numbers(5_000, start=900_000)
    seconds = check.DURATION / check.ROUNDS
    with bench_database(check.DATABASE) as db:
        call_command("migrate", verbosity=0)
        las, care_settings = check._organisations()
        started = time.monotonic()
        check._load(db, children, las, care_settings)
        print(f"data ready in {time.monotonic() - started:.0f} s", flush=True)
        cookie = check._clinician_cookie(care_settings[0])
        make_check = check._check_request_factory(cookie, children, not_on_plan)
        first, second, proxy_one, proxy_two = (_free_port() for _ in range(4))
        with ExitStack() as servers:
            web_a = servers.enter_context(_gunicorn_on(db, first))
            web_b = servers.enter_context(_gunicorn_on(db, second))
            caddy_one = servers.enter_context(_caddy(proxy_one, [first]))
            caddy_two = servers.enter_context(_caddy(proxy_two, [first, second]))
            configurations = (
                ("one gunicorn, direct", first),
                ("one gunicorn, behind caddy", proxy_one),
                ("two gunicorns, behind caddy", proxy_two),
            )
            pids = {"web servers": [web_a, web_b], "proxy": [caddy_one, caddy_two]}
            print(
                f"each gunicorn: {check.WORKERS} sync workers; {check.CLIENTS} clients; "
                f"{check.DURATION:.0f} s per journey in {check.ROUNDS} rounds; {os.cpu_count()} cores; "
                f"load average before: {check._load_average()}",
                flush=True,
            )
            for port in (first, second):
                with _requests_to(port):
                    for _ in range(2 * check.WORKERS):
                        check._request("GET", "/check/", headers={"Cookie": cookie}, timeout=300)
            journeys = [(label, port, name, make) for label, port in configurations
                        for name, make in (("bare", check._bare_request), ("check", make_check))]  # fmt: skip
            for _, port, _, make in journeys:
                with _requests_to(port):
                    check._drive(make, seconds=check.WARM_UP)
            results: dict[tuple[str, str], list] = {(label, name): [0, 0, 0.0, [], Counter()]
                                                    for label, _, name, _ in journeys}  # fmt: skip
            for _ in range(check.ROUNDS):
                for label, port, name, make in journeys:
                    with _requests_to(port):
                        before = _cpu(pids)
                        ok, errors, latencies, elapsed = check._drive(make, seconds=seconds)
                        used = _cpu(pids)
                    total = results[(label, name)]
                    total[0] += ok
                    total[1] += errors
                    total[2] += elapsed
                    total[3] += latencies
                    total[4].update(used - before)
        print(f"load average after: {check._load_average()} (a shared machine: compare within this run)")
        for label, _ in configurations:
            bare_ok, _, bare_elapsed, _, _ = results[(label, "bare")]
            bare = bare_ok / bare_elapsed
            for name in ("bare", "check"):
                ok, errors, elapsed, latencies, used = results[(label, name)]
                throughput = ok / elapsed
                cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
                cpu = ", ".join(f"{where} {s / max(ok, 1) * 1000:.1f}" for where, s in sorted(used.items()))
                print(
                    f"{label:<28} {name:<6} {throughput:7.1f} req/s  ratio {bare / max(throughput, 0.001):4.2f}  "
                    f"p50 {cuts[49] * 1000:6.1f} ms  p95 {cuts[94] * 1000:6.1f} ms  ({errors} errors)"
                )
                print(f"{'':<36}CPU ms per request: {cpu}")
    check._broker_flush()
