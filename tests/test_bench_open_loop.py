"""The benches' open-loop generator (bench/_open_loop.py) against a tiny local server: it keeps
its schedule when the server is slow, and counts the time requests spend queued."""

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer

from bench._open_loop import offered_load


@contextmanager
def _server(*, service_seconds: float, concurrent: bool) -> Iterator[tuple[int, list[float]]]:
    """A server taking `service_seconds` per request, all at once (`concurrent`) or one at a time;
    yields its port and the times requests reached it."""
    arrivals: list[float] = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):
            arrivals.append(time.perf_counter())
            time.sleep(service_seconds)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer if concurrent else HTTPServer):
        # Room in the backlog for every request the tests offer, so one waits rather than is refused.
        request_queue_size = 128
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], arrivals
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int):
    def send() -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    return send


def test_keeps_the_schedule_when_every_answer_takes_longer_than_the_interval():
    # Each answer takes 0.5 s, ten times the 50 ms between requests: a closed loop of one client
    # would send 2 requests in the second; the schedule sends all 20, spread over the second.
    with _server(service_seconds=0.5, concurrent=True) as (port, arrivals):
        load = offered_load(_get(port), rate=20, seconds=1)
    assert len(arrivals) == 20
    assert load.statuses == [200] * 20
    assert 0.85 < max(arrivals) - min(arrivals) < 1.2
    assert load.send_lag < 0.1
    assert all(0.5 <= latency < 1.0 for latency in load.latencies)


def test_counts_the_time_requests_wait_behind_a_server_that_cannot_keep_up():
    # One request at a time, 0.1 s each: 10 a second served, 20 offered. Request i is due at
    # 0.05 i s and answered at about 0.1 (i + 1) s, so its latency grows to about 1 s; timing
    # only from a request's own send, with the server's queue left out, would show 0.1 s.
    with _server(service_seconds=0.1, concurrent=False) as (port, arrivals):
        load = offered_load(_get(port), rate=20, seconds=1)
    assert len(arrivals) == 20
    assert load.statuses == [200] * 20
    assert load.send_lag < 0.1
    assert load.latencies[-1] > 0.85
    assert sum(load.latencies[10:]) > 2 * sum(load.latencies[:10])
    assert load.percentile(50) > 350
    assert load.percentile(99) > 850
    assert 1.8 < load.elapsed < 4.0


def test_a_request_that_fails_is_an_error_and_still_timed():
    calls = iter(range(10))

    def send() -> int:
        if next(calls) % 2:
            raise ConnectionRefusedError
        return 200

    load = offered_load(send, rate=50, seconds=0.2)
    assert sorted(load.statuses) == [200] * 5 + [599] * 5
    assert load.errors == 5
    assert len(load.latencies) == 10
