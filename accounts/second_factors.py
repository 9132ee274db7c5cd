"""Whether a user has a second factor: one rule, asked by every page and API that needs it.

The kinds (issue 24 item 14, where seven places gave three answers):

- the authenticator app (a confirmed TOTP device): always counts;
- a passkey (a confirmed WebAuthn credential, accounts/passkeys.py);
- an identity provider's assurance (single sign-on's device, registered from above: accounts
  must not import single_sign_on, docs/adr/ADR-010-layout.md). It proves a second factor only
  at that provider's sign-in, never at ours, so only a caller that reports enrolment counts it.

Backup codes never count alone: they are issued with the authenticator app and are its spare.

Which kinds count is the caller's parameter, each with its reason where it calls; the rule
itself (which rows prove which kind) lives only here.
"""

import operator
from functools import reduce

from django.db.models import Exists, OuterRef, Q, QuerySet
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import User

_PROVIDER_ASSURANCE: list[type[Device]] = []


def provider_assurance_register(model: type[Device]) -> type[Device]:
    """Called from the single sign-on app's ready(): its device stands for a provider's assurance."""
    if model not in _PROVIDER_ASSURANCE:
        _PROVIDER_ASSURANCE.append(model)
    return model


def second_factor_q(*, passkeys: bool = True, provider_assurance: bool = False, besides: Device | None = None) -> Q:
    """A filter on User: has a second factor of the kinds asked for, not counting `besides`.

    `passkeys`: a passkey counts (it is checked at our sign-in, as the authenticator is).
    `provider_assurance`: a provider's assurance counts (enrolment as an administrator sees it).
    `besides`: a device about to go (a passkey being removed), which must not count itself.
    """
    models: list[type[Device]] = [TOTPDevice]
    if passkeys:
        models.append(WebAuthnCredential)
    if provider_assurance:
        models.extend(_PROVIDER_ASSURANCE)
    proofs = []
    for model in models:
        devices = model.objects.filter(user=OuterRef("pk"), confirmed=True)
        if besides is not None and isinstance(besides, model):
            devices = devices.exclude(pk=besides.pk)
        proofs.append(Q(Exists(devices)))
    return reduce(operator.or_, proofs)


def users_with_second_factor(
    users: QuerySet[User], *, passkeys: bool = True, provider_assurance: bool = False
) -> QuerySet[User]:
    """`users` narrowed to those with a second factor of the kinds asked for (one query)."""
    return users.filter(second_factor_q(passkeys=passkeys, provider_assurance=provider_assurance))


def has_second_factor(
    user: User, *, passkeys: bool = True, provider_assurance: bool = False, besides: Device | None = None
) -> bool:
    """Whether `user` has a second factor of the kinds asked for (see `second_factor_q`)."""
    kinds = second_factor_q(passkeys=passkeys, provider_assurance=provider_assurance, besides=besides)
    return User.objects.filter(pk=user.pk).filter(kinds).exists()
