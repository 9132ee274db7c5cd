from django.apps import AppConfig
from django.db.models.signals import post_save


class ReportsConfig(AppConfig):
    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Registers the national admin's home panel with accounts (accounts/dashboards.py).
        from accounts.models import Organisation
        from plans.models import PlanUpload
        from reports import dashboards  # noqa: F401
        from reports.progress import organisation_saved, upload_saved

        # The events that change a kept go-live state at once; beat refreshes every state too.
        post_save.connect(upload_saved, sender=PlanUpload, dispatch_uid="reports_go_live_after_upload")
        post_save.connect(organisation_saved, sender=Organisation, dispatch_uid="reports_go_live_after_organisation")
