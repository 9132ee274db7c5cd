from django.apps import AppConfig


class SingleSignOnConfig(AppConfig):
    name = "single_sign_on"
    verbose_name = "Single sign-on"

    def ready(self):
        # Registers the page after sign-out with accounts (accounts/views.py).
        # A provider's assurance is a second factor as administrators see it (accounts/second_factors.py).
        from accounts.second_factors import provider_assurance_register
        from single_sign_on import views  # noqa: F401
        from single_sign_on.models import ProviderAssuranceDevice

        provider_assurance_register(ProviderAssuranceDevice)
