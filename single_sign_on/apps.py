from django.apps import AppConfig


class SingleSignOnConfig(AppConfig):
    name = "single_sign_on"
    verbose_name = "Single sign-on"

    def ready(self):
        # Registers the page after sign-out with accounts (accounts/views.py).
        from single_sign_on import views  # noqa: F401
