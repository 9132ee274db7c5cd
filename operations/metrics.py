"""`/metrics` in the Prometheus text format: django-prometheus's request metrics (gathered
across gunicorn's workers in multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set, as
cpis/gunicorn.py does) and the service's own figures, read from the database at each scrape
(operations.services.service_health: every figure on the service-health page).

Reachable only with the bearer token METRICS_TOKEN or from an address in METRICS_ALLOWED_IPS
(the client address as `audit.services.client_ip` gives it); with neither configured, nobody.
"""

import hmac
import ipaddress
import os

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from accounts.requests import CpisRequest
from audit.services import client_ip
from operations.mesh_state import mesh_state
from operations.services import service_health


class ServiceCollector:
    """The figures operators alert on, computed when scraped (so every worker reports the same)."""

    def collect(self):
        health = service_health()
        heartbeat = GaugeMetricFamily(
            "cpis_worker_heartbeat_age_seconds", "Seconds since a worker last ran beat's heartbeat task (NaN: none)."
        )
        heartbeat.add_metric([], float("nan") if health.heartbeat_age is None else health.heartbeat_age)
        yield heartbeat

        pending = GaugeMetricFamily("cpis_deliveries_pending", "Deliveries waiting or being sent.", labels=["channel"])
        oldest = GaugeMetricFamily(
            "cpis_deliveries_oldest_pending_age_seconds",
            "Age of the oldest delivery still waiting (0: none).",
            labels=["channel"],
        )
        failed = GaugeMetricFamily(
            "cpis_deliveries_failed", "Deliveries that failed after their last retry.", labels=["channel"]
        )
        pools = GaugeMetricFamily(
            "cpis_worker_pool_heartbeat_age_seconds",
            "Seconds since each channel's worker pool ran its heartbeat (NaN: none).",
            labels=["channel"],
        )
        for c in health.channels:
            pools.add_metric([c.channel], float("nan") if c.pool_heartbeat_age is None else c.pool_heartbeat_age)
            pending.add_metric([c.channel], c.pending)
            oldest.add_metric([c.channel], c.oldest_pending_age or 0.0)
            failed.add_metric([c.channel], c.failed)
        yield from (pools, pending, oldest, failed)

        overdue = GaugeMetricFamily(
            "cpis_notifications_overdue", "Overdue unacknowledged notifications.", labels=["local_authority"]
        )
        for la, count in health.overdue_by_la:
            overdue.add_metric([la.ods_code], count)
        yield overdue

        upload = GaugeMetricFamily(
            "cpis_plan_upload_last_timestamp_seconds",
            "When each LA's last plan upload was received, labelled with its status.",
            labels=["local_authority", "status"],
        )
        for u in health.last_uploads:
            upload.add_metric([u.organisation.ods_code, u.status], u.uploaded_at.timestamp())
        yield upload

        runs = GaugeMetricFamily(
            "cpis_periodic_task_last_success_timestamp_seconds",
            "Last successful run of each beat task (0: never).",
            labels=["task"],
        )
        expected = GaugeMetricFamily(
            "cpis_periodic_task_interval_seconds", "How often each beat task should run.", labels=["task"]
        )
        for t in health.periodic_tasks:
            runs.add_metric([t.name], t.last_success_at.timestamp() if t.last_success_at else 0.0)
            expected.add_metric([t.name], t.expected_every)
        yield from (runs, expected)

        yield from _mesh_metrics()

        audit = GaugeMetricFamily("cpis_audit_events_today", "Audit events recorded today (London).")
        audit.add_metric([], health.audit_per_day[0][1] if health.audit_per_day else 0)
        yield audit


def _mesh_metrics():
    state = mesh_state()
    poll = state.poll
    last = GaugeMetricFamily(
        "cpis_mesh_poll_last_success_timestamp_seconds", "When our MESH inbox was last polled successfully (0: never)."
    )
    last.add_metric([], poll.last_success_at.timestamp() if poll and poll.last_success_at else 0.0)
    failures = GaugeMetricFamily("cpis_mesh_poll_consecutive_failures", "MESH polls failed in a row (403, outage).")
    failures.add_metric([], poll.consecutive_failures if poll else 0)
    oldest = GaugeMetricFamily(
        "cpis_mesh_oldest_unacknowledged_age_seconds",
        "Age of the oldest MESH message not yet acknowledged or applied (0: none).",
    )
    oldest.add_metric([], state.oldest_unacknowledged_age or 0.0)
    failed = GaugeMetricFamily(
        "cpis_mesh_answers_failed", "Answers to LAs' files that failed after their last retry.", labels=["mailbox"]
    )
    for mailbox, count in state.answers_failed_by_mailbox:
        failed.add_metric([mailbox], count)
    reports = GaugeMetricFamily(
        "cpis_mesh_reports_recent", "MESH's reports of messages of ours not delivered, in the last 7 days."
    )
    reports.add_metric([], state.reports_recent)
    yield from (last, failures, oldest, failed, reports)


def _allowed(request: CpisRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    address = client_ip(request)
    if not address or not settings.METRICS_ALLOWED_IPS:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_IPS)


def _registry():
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        # One process (runserver, tests): the default registry holds django-prometheus's metrics.
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(ServiceCollector())
    return registry


@login_not_required
@never_cache
def metrics(request: CpisRequest):
    if not _allowed(request):
        response = HttpResponse("Forbidden\n", status=403, content_type="text/plain")
        if settings.METRICS_TOKEN:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
