from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from identity.signals import nhs_number_inactive

        # Registers this app's home page panels with accounts (accounts/dashboards.py).
        from notifications import dashboards  # noqa: F401
        from notifications.services.inactive import nhs_number_inactive_receive

        # identity sits below notifications: its re-verification tells this app through a signal.
        nhs_number_inactive.connect(nhs_number_inactive_receive, dispatch_uid="notifications-inactive-nhs-number")
