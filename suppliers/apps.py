from django.apps import AppConfig


class SuppliersConfig(AppConfig):
    name = "suppliers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Adds the "systems used" section to administration's organisation page (ADR-010 hook).
        from suppliers import organisation_section  # noqa: F401
