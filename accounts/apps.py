from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # The signed-in state kept in each worker is invalidated by these (accounts/signed_in.py).
        from accounts.signed_in import receivers_connect

        receivers_connect()
