"""The OpenID Connect relying party: discovery, the token endpoint and ID token validation.

PyJWT does the signatures and the standard claims (exp, iat, iss, aud); httpx talks to the
provider with short timeouts. Nothing here reads or writes our database.
"""

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import jwt
from django.conf import settings
from django.core.cache import cache

from single_sign_on import throttles
from single_sign_on.models import ClientAuthMethod, IdentityProvider

# Asymmetric only: never "none", never HS* (which would make the client secret a signing key).
_ALLOWED_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
_DISCOVERY_SECONDS = 3600
_JWKS_SECONDS = 3600


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered with something that is not OpenID Connect."""


class TokenRefused(Exception):
    """The provider or the ID token said no; `reason` is a code for the audit log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _http() -> httpx.Client:
    return httpx.Client(timeout=settings.SSO_HTTP_TIMEOUT, follow_redirects=False)


def _get_json(url: str) -> dict:
    try:
        with _http() as client:
            response = client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(type(error).__name__) from error
    if not isinstance(document, dict):
        raise ProviderUnavailable("not_an_object")
    return document


def _cache_key(provider: IdentityProvider, what: str) -> str:
    digest = hashlib.sha256(provider.issuer_normalised.encode()).hexdigest()[:16]
    return f"sso:{what}:{provider.pk}:{digest}"


def discovery(provider: IdentityProvider) -> dict:
    """The provider's well-known document, cached; its issuer must be exactly the configured one."""
    key = _cache_key(provider, "discovery")
    document = cache.get(key)
    if document is None:
        document = _get_json(f"{provider.issuer_normalised}/.well-known/openid-configuration")
        if document.get("issuer", "").rstrip("/") != provider.issuer_normalised:
            raise ProviderUnavailable("issuer_mismatch")
        for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(endpoint), str):
                raise ProviderUnavailable(f"no_{endpoint}")
        cache.set(key, document, _DISCOVERY_SECONDS)
    return document


def _jwks(provider: IdentityProvider, *, refresh: bool = False) -> list[dict]:
    key = _cache_key(provider, "jwks")
    keys = None if refresh else cache.get(key)
    if keys is None:
        keys = _get_json(discovery(provider)["jwks_uri"]).get("keys", [])
        if not isinstance(keys, list):
            raise ProviderUnavailable("bad_jwks")
        cache.set(key, keys, _JWKS_SECONDS)
    return keys


def _signing_key(provider: IdentityProvider, kid: str | None, alg: str) -> jwt.PyJWK:
    """The provider's key for `kid`; a kid we have not seen makes us fetch the keys again once,
    because that is how a provider's key rotation shows. Anyone can name a kid (the logout
    endpoint is public), so that happens at most once per SSO_KEY_REFETCH_SECONDS per provider."""
    for refresh in (False, True):
        if refresh and not throttles.key_refetch_allowed(provider):
            break
        candidates = [
            k
            for k in _jwks(provider, refresh=refresh)
            if isinstance(k, dict) and k.get("use", "sig") == "sig" and (kid is None or k.get("kid") == kid)
        ]
        if len(candidates) == 1 or (candidates and kid is not None):
            try:
                return jwt.PyJWK(candidates[0], algorithm=alg)
            except jwt.PyJWKError as error:
                raise TokenRefused("unusable_key") from error
    raise TokenRefused("unknown_signing_key")


@dataclass
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def _pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorization_request(provider: IdentityProvider, *, redirect_uri: str) -> AuthorizationRequest:
    document = discovery(provider)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": redirect_uri,
        "scope": provider.scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": _pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if provider.acr_values_requested:
        params["acr_values"] = provider.acr_values_requested
    endpoint = document["authorization_endpoint"]
    separator = "&" if "?" in endpoint else "?"
    return AuthorizationRequest(
        url=f"{endpoint}{separator}{urlencode(params)}", state=state, nonce=nonce, code_verifier=verifier
    )


def _client_authentication(
    provider: IdentityProvider, token_endpoint: str
) -> tuple[dict[str, str], tuple[str, str] | None]:
    """(extra form fields, HTTP basic credentials) proving we are the registered client."""
    if provider.client_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT:
        now = int(time.time())
        assertion = jwt.encode(
            {
                "iss": provider.client_id,
                "sub": provider.client_id,
                "aud": token_endpoint,
                "jti": str(uuid.uuid4()),
                "iat": now,
                "exp": now + 60,
            },
            provider.private_key_pem,
            algorithm="RS256",
            headers={"kid": provider.key_id},
        )
        return {
            "client_id": provider.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }, None
    # RFC 6749 2.3.1: both parts are form-encoded before they go into the Basic header.
    from urllib.parse import quote

    return {}, (quote(provider.client_id, safe=""), quote(provider.client_secret, safe=""))


def _token_request(provider: IdentityProvider, form: dict) -> dict:
    endpoint = discovery(provider)["token_endpoint"]
    extra, basic = _client_authentication(provider, endpoint)
    try:
        with _http() as client:
            response = client.post(
                endpoint,
                data={**form, **extra},
                # The client has no credentials of its own: without basic ones, none are sent.
                auth=basic if basic is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as error:
        raise ProviderUnavailable(type(error).__name__) from error
    if response.status_code >= 500:
        raise ProviderUnavailable(f"status_{response.status_code}")
    try:
        body = response.json()
    except ValueError as error:
        raise ProviderUnavailable("not_json") from error
    if response.status_code != 200 or not isinstance(body, dict):
        error_code = body.get("error") if isinstance(body, dict) else None
        raise TokenRefused(f"token_endpoint_{error_code if isinstance(error_code, str) else response.status_code}")
    return body


def code_exchange(provider: IdentityProvider, *, code: str, redirect_uri: str, code_verifier: str) -> dict:
    return _token_request(
        provider,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )


def refresh(provider: IdentityProvider, *, refresh_token: str) -> dict:
    return _token_request(provider, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def _provider_signed_claims(provider: IdentityProvider, token: str, *, kind: str, require: list[str]) -> dict:
    """The claims of an ID or logout token once it is signed by one of the provider's keys with
    an algorithm it advertises, for our client, from its issuer, and current. A refusal's
    reason starts with `kind`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRefused(f"{kind}_malformed") from error
    alg = header.get("alg")
    # Both token types are signed as the provider signs ID tokens (Back-Channel Logout 2.4).
    supported = discovery(provider).get("id_token_signing_alg_values_supported") or ["RS256"]
    if alg not in _ALLOWED_ALGORITHMS or alg not in supported:
        raise TokenRefused(f"{kind}_algorithm")
    key = _signing_key(provider, header.get("kid"), alg)
    try:
        return jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=provider.client_id,
            issuer=discovery(provider)["issuer"],
            leeway=settings.SSO_CLOCK_LEEWAY,
            options={"require": require},
        )
    except jwt.ExpiredSignatureError as error:
        raise TokenRefused(f"{kind}_expired") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRefused(f"{kind}_audience") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRefused(f"{kind}_issuer") from error
    except jwt.InvalidSignatureError as error:
        raise TokenRefused(f"{kind}_signature") from error
    except jwt.PyJWTError as error:
        raise TokenRefused(f"{kind}_invalid") from error


def id_token_validate(provider: IdentityProvider, id_token: str, *, nonce: str) -> dict:
    """The ID token's claims, once its signature, issuer, audience, expiry and nonce hold and it
    has not been presented before (OpenID Connect Core 3.1.3.7)."""
    claims = _provider_signed_claims(provider, id_token, kind="id_token", require=["iss", "sub", "aud", "exp", "iat"])
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise TokenRefused("id_token_audience")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(claims["nonce"], nonce):
        raise TokenRefused("id_token_nonce")
    # Single use: the token's hash is remembered until it expires anyway.
    lifetime = max(1, int(claims["exp"] - time.time()) + settings.SSO_CLOCK_LEEWAY)
    if not cache.add(f"sso:used:{hashlib.sha256(id_token.encode()).hexdigest()}", 1, lifetime):
        raise TokenRefused("id_token_replayed")
    return claims


_BACK_CHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_LOGOUT_TOKEN_MAX_AGE = 600


def logout_token_audiences(logout_token: str) -> tuple[str, list[str]]:
    """(issuer, audiences) as the token claims them, before anything is verified: only to find
    which provider's keys to verify it with."""
    try:
        claims = jwt.decode(logout_token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise TokenRefused("logout_token_malformed") from error
    issuer, audience = claims.get("iss"), claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not isinstance(issuer, str) or not all(isinstance(a, str) for a in audiences):
        raise TokenRefused("logout_token_malformed")
    return issuer.rstrip("/"), audiences


def logout_token_validate(provider: IdentityProvider, logout_token: str) -> dict:
    """The logout token's claims once it holds as OpenID Connect Back-Channel Logout 1.0 (2.6)
    asks: signed by the provider's key, for our client, recent, carrying the logout event and a
    `sub` or `sid`, no nonce (which would make it an ID token), and not seen before."""
    claims = _provider_signed_claims(provider, logout_token, kind="logout_token", require=["iss", "aud", "iat", "jti"])
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(_BACK_CHANNEL_LOGOUT_EVENT), dict):
        raise TokenRefused("logout_token_no_event")
    if "nonce" in claims:
        raise TokenRefused("logout_token_nonce")
    if not isinstance(claims["jti"], str):
        raise TokenRefused("logout_token_invalid")
    if not any(isinstance(claims.get(name), str) and claims[name] for name in ("sub", "sid")):
        raise TokenRefused("logout_token_no_subject")
    # Whatever its `exp` says (it may have none), an older token is refused, so a jti needs
    # remembering only that long.
    if time.time() - claims["iat"] > _LOGOUT_TOKEN_MAX_AGE + settings.SSO_CLOCK_LEEWAY:
        raise TokenRefused("logout_token_stale")
    remember = _LOGOUT_TOKEN_MAX_AGE + 2 * settings.SSO_CLOCK_LEEWAY
    if not cache.add(f"sso:logout:{_cache_key(provider, 'jti')}:{claims['jti']}", 1, remember):
        raise TokenRefused("logout_token_replayed")
    return claims


def userinfo(provider: IdentityProvider, *, access_token: str, subject: str) -> dict:
    """The userinfo claims (a provider may keep e-mail there rather than in the ID token); they
    must be about the ID token's subject."""
    endpoint = discovery(provider).get("userinfo_endpoint")
    if not endpoint:
        return {}
    try:
        with _http() as client:
            response = client.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        response.raise_for_status()
        claims = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ProviderUnavailable(type(error).__name__) from error
    if not isinstance(claims, dict) or claims.get("sub") != subject:
        raise TokenRefused("userinfo_subject")
    return claims


def end_session_url(provider: IdentityProvider, *, post_logout_redirect_uri: str) -> str | None:
    """The provider's RP-initiated logout address, when it advertises one. Without an
    id_token_hint (it carries personal claims and would sit in a URL): the provider asks the
    person to confirm instead."""
    try:
        endpoint = discovery(provider).get("end_session_endpoint")
    except ProviderUnavailable:
        return None
    if not isinstance(endpoint, str):
        return None
    separator = "&" if "?" in endpoint else "?"
    query = urlencode({"client_id": provider.client_id, "post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{endpoint}{separator}{query}"
