import os

from tests.url_permissions import Expect, everyone

EXPECTATIONS = [
    Expect("healthz", anonymous=200, default=200),
    Expect("livez", anonymous=200, default=200),
    Expect("readyz", anonymous=200, default=200),
    Expect("accounts:login", anonymous=200, default=302),
    Expect("accounts:login_verify", anonymous=302, default=302),
    Expect("accounts:login_enrol", anonymous=302, default=302),
    Expect("accounts:backup_codes", statuses=everyone(302)),
    Expect("accounts:logout", method="post", statuses=everyone(302)),
    Expect("accounts:session_extend", method="post", statuses=everyone(200)),
    Expect("accounts:session_status", statuses=everyone(200)),
    Expect("accounts:account", statuses=everyone(200)),
    Expect("accounts:password_change", statuses=everyone(200)),
    Expect("accounts:backup_codes_new", statuses=everyone(200)),
    Expect("accounts:password_forgotten", anonymous=200, default=200),
    # Without a link opened in this session, and with a made-up token: the link does not work.
    Expect("accounts:password_reset", anonymous=410, default=410),
    Expect(
        "accounts:password_reset_link",
        anonymous=410,
        default=410,
        kwargs=lambda w, p, own: {"token": "MQ.made-up-token"},
        other_default=410,
    ),
    Expect("accounts:organisation_select", statuses=everyone(200)),
    Expect("accounts:home", statuses=everyone(200)),
]


def _passkey(world, persona: str, own: bool) -> dict:
    """A passkey of the persona's own (own), or of somebody else's (another user's: "not found")."""
    from django_otp_webauthn.models import WebAuthnCredential

    from tests.factories import UserFactory

    owner = world.users.get(persona) if own else None
    passkey = WebAuthnCredential.objects.create(
        user=owner or UserFactory(), name="Phone", credential_id=os.urandom(32), public_key=b"-", confirmed=True
    )
    return {"passkey_id": passkey.pk}


EXPECTATIONS += [
    Expect("accounts:passkeys", statuses=everyone(200)),
    # Adding one needs a fresh second factor (the password and a code, or a passkey, within
    # REAUTHENTICATION_WINDOW): a session alone is sent to confirm it is them first.
    Expect("accounts:passkey_add", statuses=everyone(302)),
    Expect("accounts:passkey_create", statuses=everyone(302)),
    Expect("accounts:reauthenticate", statuses=everyone(200)),
    Expect("accounts:passkey_remove", statuses=everyone(200), kwargs=_passkey, other_default=404),
    # The ceremonies answer JSON: a registration needs a fresh second factor first, a sign-in
    # nobody signed in; the confirmation's passkey is the signed-in user's own.
    Expect("accounts:passkey_register_begin", method="post", statuses=everyone(403)),
    Expect("accounts:passkey_register_complete", method="post", statuses=everyone(403)),
    Expect("accounts:reauthenticate_passkey_begin", method="post", statuses=everyone(200)),
    Expect("accounts:reauthenticate_passkey_complete", method="post", statuses=everyone(400)),
    Expect("accounts:passkey_authenticate_begin", method="post", anonymous=200, statuses=everyone(403)),
    Expect("accounts:passkey_authenticate_complete", method="post", anonymous=400, statuses=everyone(403)),
]
