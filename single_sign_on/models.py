"""Organisations' OpenID Connect identity providers, and the provider identities linked to our
users. Accounts, roles and training stay ours: a provider only says who someone is."""

import base64
import hashlib
import json
from typing import ClassVar, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_otp.models import Device
from jwt.algorithms import RSAAlgorithm

from accounts.models import Organisation, User


class ClientAuthMethod(models.TextChoices):
    PRIVATE_KEY_JWT = "private_key_jwt", "Signed assertion (private_key_jwt), as NHS CIS2 requires"
    CLIENT_SECRET_BASIC = "client_secret_basic", "Client secret"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


class IdentityProvider(models.Model):
    """One organisation's OpenID Connect provider, set up by a national administrator."""

    organisation = models.OneToOneField(Organisation, on_delete=models.PROTECT, related_name="identity_provider")
    # On the sign-in button: "Sign in with NHS CIS2 Authentication".
    name = models.CharField(max_length=100)
    issuer = models.URLField(max_length=300)
    client_id = models.CharField(max_length=200)
    client_auth_method = models.CharField(max_length=30, choices=ClientAuthMethod.choices)
    # Never shown again once saved (the form only replaces it).
    client_secret = models.CharField(max_length=300, blank=True)
    # Ours, generated for private_key_jwt; the provider gets the public half from our JWKS.
    private_key_pem = models.TextField(blank=True)
    scopes = models.CharField(max_length=300, default="openid email profile")
    # The claim naming the person at the provider (CIS2: `sub`, or `uid` for the user id).
    subject_claim = models.CharField(max_length=50, default="sub")
    email_claim = models.CharField(max_length=50, default="email")
    # Sent as acr_values on the authorization request (CIS2: "AAL2_OR_AAL3_ANY").
    acr_values_requested = models.CharField(max_length=200, blank=True)
    # Space-separated: a sign-in asserting one of these acr values, or one of these amr values,
    # counts as two-factor; otherwise our own second factor follows.
    two_factor_acr = models.CharField(max_length=300, blank=True)
    two_factor_amr = models.CharField(max_length=300, blank=True)
    is_enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="identity_provider_has_client_credential",
                condition=(Q(client_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT) & ~Q(private_key_pem=""))
                | (Q(client_auth_method=ClientAuthMethod.CLIENT_SECRET_BASIC) & ~Q(client_secret="")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organisation.name})"

    @property
    def issuer_normalised(self) -> str:
        return self.issuer.rstrip("/")

    def assurance_is_two_factor(self, *, acr: str | None, amr) -> bool:
        if acr and acr in _words(self.two_factor_acr):
            return True
        methods = amr if isinstance(amr, list) else []
        return any(isinstance(m, str) and m in _words(self.two_factor_amr) for m in methods)

    def private_key_generate(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def public_jwk(self) -> dict | None:
        if not self.private_key_pem:
            return None
        # Ours, generated as RSA above; the loader's type covers every kind of key.
        private = cast(
            rsa.RSAPrivateKey, serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        )
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        jwk.update(kid=self.key_id, use="sig", alg="RS256")
        return jwk

    @property
    def key_id(self) -> str:
        digest = hashlib.sha256(self.private_key_pem.encode()).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()


class LinkMethod(models.TextChoices):
    INVITATION = "invitation", "Invitation link"
    EMAIL_CONFIRMED = "email_confirmed", "E-mail address confirmed by an administrator"


class ProviderIdentity(models.Model):
    """Someone at a provider (issuer + subject) is this user of ours."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="provider_identities")
    method = models.CharField(max_length=20, choices=LinkMethod.choices)
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="provider_identity_unique_subject"),
            models.UniqueConstraint(fields=["provider", "user"], name="provider_identity_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.provider.name}"


class LinkRequest(models.Model):
    """A provider identity whose verified e-mail address is one of our users': it signs in only
    once an administrator of the provider's organisation (or a national one) confirms it."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="link_requests")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    confirmed = models.BooleanField(null=True)

    class Meta:
        ordering = ["requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"],
                condition=Q(decided_at__isnull=True),
                name="link_request_one_pending_per_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"Link request for {self.user} at {self.provider.name}"


class ProviderAssuranceDevice(Device):
    """The second factor a provider vouched for (its acr/amr met the provider's rule).

    django-otp's gate asks only whether the session's device is verified; this device is put in
    the session by the single sign-on callback alone, after the ID token is validated. It
    accepts no codes (Device.verify_token refuses everything), so it cannot stand in for the
    authenticator at the code step.
    """

    provider: models.ForeignKey[IdentityProvider, IdentityProvider] = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="+"
    )
    # django-otp ships no types, so the plugin cannot see the manager its Device gives this
    # model, and without one it cannot type User's reverse accessor to it. An annotation only:
    # Django's model class ignores it and keeps django-otp's manager.
    _default_manager: ClassVar[models.Manager["ProviderAssuranceDevice"]]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="provider_assurance_device_unique"),
        ]
