from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity assurance (PDS)"

    def ready(self):
        # plans' upload pipeline sits below identity and cannot import it: PDS verification
        # takes part in uploads through plans' hook (plans/uploads/verification.py).
        from identity.uploads import PdsUploadVerification
        from plans.uploads.verification import upload_verification_register

        upload_verification_register(PdsUploadVerification())
