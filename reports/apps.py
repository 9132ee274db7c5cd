from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the national admin's home panel with accounts (accounts/dashboards.py).
        from reports import dashboards  # noqa: F401
