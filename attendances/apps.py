from django.apps import AppConfig


class AttendancesConfig(AppConfig):
    name = "attendances"

    def ready(self):
        # Registers this app's home page panels with accounts (accounts/dashboards.py).
        from attendances import dashboards  # noqa: F401
