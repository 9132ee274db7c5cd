import itertools

from accounts.models import Role
from single_sign_on.models import ClientAuthMethod, IdentityProvider, LinkRequest
from tests.factories import user_with_role
from tests.url_permissions import Expect, World

_subjects = itertools.count()


def _provider(organisation) -> IdentityProvider:
    # Nothing listens on port 9: the provider is down, which is all an anonymous start can show.
    provider, _ = IdentityProvider.objects.get_or_create(
        organisation=organisation,
        defaults={
            "name": "Test provider",
            "issuer": "http://127.0.0.1:9",
            "client_id": "cpis",
            "client_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC,
            "client_secret": "secret",
            "is_enabled": True,
        },
    )
    return provider


def _provider_kwargs(w: World, persona: str, own: bool) -> dict:
    return {"provider_id": _provider(w.care_setting if own else w.other_care_setting).pk}


def _organisation_kwargs(w: World, persona: str, own: bool) -> dict:
    home = w.national if persona == "national_admin" else w.care_setting
    return {"organisation_id": (home if own else w.other_la).pk}


def _link_kwargs(w: World, persona: str, own: bool) -> dict:
    la_persona = persona in ("social_worker", "plan_manager", "la_admin", "untrained_social_worker")
    organisation = (w.la if la_persona else w.care_setting) if own else w.other_care_setting
    provider = _provider(organisation)
    link = LinkRequest.objects.create(
        provider=provider,
        issuer=provider.issuer_normalised,
        subject=f"subject-{next(_subjects)}",
        user=user_with_role(Role.CLINICIAN if organisation.is_care_setting else Role.SOCIAL_WORKER, organisation),
    )
    return {"link_request_id": link.pk}


_ADMINS = {"la_admin": 200, "setting_admin": 200, "national_admin": 200}

EXPECTATIONS = [
    Expect("single_sign_on:choose", anonymous=200, default=302),
    # No sign-in in progress: refused (and audited) rather than an error.
    Expect("single_sign_on:callback", anonymous=400, default=302),
    Expect("single_sign_on:jwks", anonymous=200, default=200),
    # For the provider's server: no logout token, a refusal (audited) whoever asks.
    Expect("single_sign_on:back_channel_logout", method="post", anonymous=400, default=400),
    Expect("single_sign_on:start", anonymous=503, default=302, kwargs=_provider_kwargs, other_default=302),
    # The provider is down, so it offers no sign-out of its own: straight to the sign-in page.
    Expect("single_sign_on:signed_out", anonymous=302, default=302, kwargs=_provider_kwargs, other_default=302),
    Expect(
        "single_sign_on:invitation_start",
        anonymous=404,
        default=200,
        kwargs=lambda w, p, own: {"token": "made-up-token"},
        other_default=200,
    ),
    Expect(
        "single_sign_on:provider_edit",
        statuses={"national_admin": 200},
        kwargs=_organisation_kwargs,
        other_statuses={"national_admin": 200},
        other_default=403,
    ),
    Expect("single_sign_on:link_requests", statuses=_ADMINS),
    Expect(
        "single_sign_on:link_decide",
        method="post",
        data={"decision": "decline"},
        statuses={"la_admin": 302, "setting_admin": 302, "national_admin": 302},
        kwargs=_link_kwargs,
        other_statuses={"la_admin": 404, "setting_admin": 404, "national_admin": 302},
        other_default=403,
    ),
]
