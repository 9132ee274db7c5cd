from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        # Registers this app's home page panels with accounts (accounts/dashboards.py).
        from notifications import dashboards  # noqa: F401
