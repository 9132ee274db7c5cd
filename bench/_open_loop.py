"""An open-loop load generator: requests at a fixed offered rate, whatever the server does.

A closed loop (N clients, each waiting for its answer before sending the next) slows down with
the server, so a slow server is asked less and its queue never shows: "coordinated omission".
Here request i is due at start + i / rate and is sent then, on a thread of its own, whether or
not the earlier ones have answered; its latency runs from when it was due, so time spent queued
(in the server's backlog, or behind a late send) is counted.
"""

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class OfferedLoad:
    rate: float
    # Per request, in the order they were due: seconds from due to answered, and the status
    # (599: no answer, the send raised or timed out).
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    # The latest any request was sent after it was due: near zero when the generator kept the
    # schedule (a loaded generator would hide load it failed to offer).
    send_lag: float = 0.0
    # From the first request due to the last one answered.
    elapsed: float = 0.0

    @property
    def errors(self) -> int:
        return sum(status != 200 for status in self.statuses)

    def percentile(self, share: int) -> float:
        """The `share`th percentile of the latencies, in milliseconds."""
        if len(self.latencies) < 2:
            return (self.latencies or [float("nan")])[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[share - 1] * 1000


def offered_load(send: Callable[[], int], *, rate: float, seconds: float) -> OfferedLoad:
    """Calls `send` (which returns an HTTP status) `rate` times a second for `seconds`, each call
    at its due time on a thread of its own; returns once every call has answered."""
    count = max(1, round(rate * seconds))
    due_times: list[float] = []
    results: list[tuple[float, float, int] | None] = [None] * count

    def one(index: int, due: float) -> None:
        sent = time.perf_counter()
        try:
            status = send()
        except Exception:  # noqa: BLE001 - any failure to get an answer is an error, never lost
            status = 599
        results[index] = (sent, time.perf_counter(), status)

    threads = []
    start = time.perf_counter() + 0.05  # room to start the first thread on time
    for index in range(count):
        due = start + index / rate
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        thread = threading.Thread(target=one, args=(index, due), daemon=True)
        thread.start()
        threads.append(thread)
        due_times.append(due)
    for thread in threads:
        thread.join()
    load = OfferedLoad(rate=rate)
    for due, result in zip(due_times, results, strict=True):
        assert result is not None  # every thread has been joined
        sent, answered, status = result
        load.latencies.append(answered - due)
        load.statuses.append(status)
        load.send_lag = max(load.send_lag, sent - due)
    load.elapsed = max(answered for _, answered, _ in filter(None, results)) - start
    return load
