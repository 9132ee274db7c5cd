from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"

    def ready(self):
        from cpis import health
        from operations import (
            services,
            signals,  # noqa: F401 - connects the beat-task recorder
        )

        health.healthz_sources_register(
            pool_heartbeat_keys=services.healthz_pool_heartbeat_keys,
            oldest_undelivered_ages=services.healthz_oldest_undelivered_ages,
        )
