from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AuditConfig(AppConfig):
    name = "audit"

    def ready(self) -> None:
        from audit.database_roles import grant_after_migrate

        # Once per migrate (sent with this app as sender), after every app's migrations.
        post_migrate.connect(grant_after_migrate, sender=self)
