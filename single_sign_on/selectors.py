"""Reads for the single sign-on pages: which providers a page offers or names."""

from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import Organisation, User
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkRequest


def providers_to_choose() -> list[IdentityProvider]:
    """The providers a person may sign in through, by their organisation's name."""
    providers = IdentityProvider.objects.filter(is_enabled=True, organisation__is_active=True).select_related(
        "organisation"
    )
    return sorted(providers, key=lambda p: p.organisation.name)


def provider_enabled(provider_id: int) -> IdentityProvider | None:
    """The provider a sign-in in progress started at, if it is still enabled."""
    return IdentityProvider.objects.filter(pk=provider_id, is_enabled=True).first()


def provider_enabled_of(organisation: Organisation) -> IdentityProvider | None:
    """The organisation's enabled provider, where its invitations may be accepted."""
    return IdentityProvider.objects.filter(organisation=organisation, is_enabled=True).first()


def provider_by_id(provider_id: int) -> IdentityProvider | None:
    return IdentityProvider.objects.filter(pk=provider_id).first()


def provider_for_logout_token(*, issuer: str, audiences: Iterable[str]) -> IdentityProvider | None:
    """The enabled provider a back-channel logout token names: its client id among the token's
    audiences, and the same issuer (compared normalised, so in Python)."""
    return next(
        (
            p
            for p in IdentityProvider.objects.select_related("organisation")
            .filter(is_enabled=True, client_id__in=audiences)
            .order_by("pk")
            if p.issuer_normalised == issuer
        ),
        None,
    )


def provider_public_keys() -> list[dict | None]:
    """The public keys of the providers we sign our client assertions for (our JWKS)."""
    return [
        p.public_jwk()
        for p in IdentityProvider.objects.filter(client_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT).exclude(
            private_key_pem=""
        )
    ]


def provider_of_organisation(organisation: Organisation) -> IdentityProvider:
    """The organisation's provider settings, or new unsaved ones for the form to fill in."""
    return IdentityProvider.objects.filter(organisation=organisation).first() or IdentityProvider(
        organisation=organisation
    )


def link_requests_visible_to(*, user: User, organisation: Organisation | None, national: bool) -> QuerySet[LinkRequest]:
    """Undecided link requests an admin may decide: a national admin's are everyone's, an org
    admin's those at their organisation's provider."""
    requests = LinkRequest.objects.filter(decided_at__isnull=True).select_related("user", "provider__organisation")
    if national:
        return requests
    if organisation is None:
        return requests.none()
    return requests.filter(provider__organisation=organisation)
