from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self):
        from identity.signals import nhs_number_inactive
        from mesh.signals import mesh_notification_undelivered

        # Registers this app's home page panels with accounts (accounts/dashboards.py).
        from notifications import dashboards  # noqa: F401
        from notifications.services.inactive import nhs_number_inactive_receive
        from notifications.services.mesh_reports import mesh_notification_undelivered_receive

        # identity sits below notifications: its re-verification tells this app through a signal.
        nhs_number_inactive.connect(nhs_number_inactive_receive, dispatch_uid="notifications-inactive-nhs-number")
        # mesh sits below notifications: MESH's report on a notification it did not deliver.
        mesh_notification_undelivered.connect(
            mesh_notification_undelivered_receive, dispatch_uid="notifications-mesh-undelivered"
        )
