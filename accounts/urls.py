from django.urls import path

from accounts import passkey_views, password_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.login_verify, name="login_verify"),
    path("login/enrol/", views.login_enrol, name="login_enrol"),
    path("account/backup-codes/", views.backup_codes, name="backup_codes"),
    path("account/", password_views.account, name="account"),
    path("account/password/", password_views.password_change_view, name="password_change"),
    path("account/backup-codes/new/", password_views.backup_codes_new, name="backup_codes_new"),
    path("password/forgotten/", password_views.password_forgotten, name="password_forgotten"),
    path("password/reset/", password_views.password_reset, name="password_reset"),
    # The token is in the path because e-mail links must be clickable; logs redact it.
    path("password/reset/<str:token>/", password_views.password_reset_link, name="password_reset_link"),
    path("account/passkeys/", passkey_views.passkey_list, name="passkeys"),
    # Confirm it is you (password and code, or a passkey) before adding a passkey.
    path("account/confirm/", passkey_views.reauthenticate, name="reauthenticate"),
    path(
        "account/confirm/passkey/begin/",
        passkey_views.ReauthenticationPasskeyBegin.as_view(),
        name="reauthenticate_passkey_begin",
    ),
    path(
        "account/confirm/passkey/complete/",
        passkey_views.ReauthenticationPasskeyComplete.as_view(),
        name="reauthenticate_passkey_complete",
    ),
    path("account/passkeys/add/", passkey_views.passkey_add, name="passkey_add"),
    path("account/passkeys/add/create/", passkey_views.passkey_create, name="passkey_create"),
    path("account/passkeys/<int:passkey_id>/remove/", passkey_views.passkey_remove_view, name="passkey_remove"),
    # The WebAuthn ceremonies (JSON, called by django-otp-webauthn's scripts).
    path(
        "account/passkeys/register/begin/",
        passkey_views.PasskeyRegistrationBegin.as_view(),
        name="passkey_register_begin",
    ),
    path(
        "account/passkeys/register/complete/",
        passkey_views.PasskeyRegistrationComplete.as_view(),
        name="passkey_register_complete",
    ),
    path(
        "login/passkey/begin/",
        passkey_views.PasskeyAuthenticationBegin.as_view(),
        name="passkey_authenticate_begin",
    ),
    path(
        "login/passkey/complete/",
        passkey_views.PasskeyAuthenticationComplete.as_view(),
        name="passkey_authenticate_complete",
    ),
    path("logout/", views.logout_view, name="logout"),
    path("session/extend/", views.session_extend, name="session_extend"),
    path("session/status/", views.session_status, name="session_status"),
    path("organisation/", views.organisation_select, name="organisation_select"),
]
