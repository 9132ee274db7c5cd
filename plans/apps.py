from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self):
        # Registers this app's home page panels with accounts (accounts/dashboards.py).
        from plans import dashboards  # noqa: F401
