from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "fhir"
    verbose_name = "FHIR R4 API"

    def ready(self):
        from accounts.signals import user_deactivated
        from fhir.services import tokens_revoke_for_deactivated_user

        user_deactivated.connect(tokens_revoke_for_deactivated_user, dispatch_uid="fhir-tokens-revoke")
