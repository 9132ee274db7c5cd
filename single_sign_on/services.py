"""Single sign-on writes: the sign-in itself, linking identities to our users, and their audit.

Accounts, roles and training stay ours. A provider identity signs in only once linked to one
of our users, either through that user's invitation link or by an administrator confirming a
verified e-mail match; an identity we do not know never becomes an account.
"""

import time

from django.contrib.auth import login as auth_login
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django_otp import login as otp_login

from accounts.models import User, UserSession
from accounts.requests import CpisRequest
from accounts.services import four_eyes_check, membership_grant
from accounts.sessions import SESSION_PROVIDER
from administration.services import InvitationUnusable, invitation_usable
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from single_sign_on.models import (
    IdentityProvider,
    LinkMethod,
    LinkRequest,
    ProviderAssuranceDevice,
    ProviderIdentity,
)

# The session's record of a single sign-on: which provider, for which user, who the provider
# says they are (issuer, `sub`, `sid`: what its back-channel logout names), and what is needed
# to ask the provider again later whether the account still works there.
SESSION_SSO = SESSION_PROVIDER


class SignInRefused(Exception):
    """Why this provider identity cannot sign in; `reason` goes to the audit log, `text` to the page."""

    def __init__(self, reason: str, text: str):
        super().__init__(reason)
        self.reason = reason
        self.text = text


def refusal_record(
    *, request: HttpRequest, provider: IdentityProvider | None, reason: str, user: User | None = None
) -> None:
    audit_record(
        action=AuditAction.SSO_REFUSED,
        request=request,
        user=user,
        organisation=provider.organisation if provider else None,
        outcome=AuditOutcome.DENIED,
        detail={"provider_id": provider.pk if provider else None, "reason": reason},
    )


def _claim(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


@transaction.atomic
def _link_through_invitation(
    *, provider: IdentityProvider, issuer: str, subject: str, token: str, request: HttpRequest
) -> User:
    """Creates the invitee's account from their invitation and links this identity to it."""
    try:
        invitation = invitation_usable(token=token, for_update=True)
    except InvitationUnusable as refused:
        raise SignInRefused(f"invitation_{refused.reason}", "This invitation link cannot be used.") from refused
    if invitation.organisation_id != provider.organisation_id:
        raise SignInRefused("invitation_other_organisation", "This invitation is for another organisation.")
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise SignInRefused(
            "invitation_existing_account", "This email address already has a CP-IS account. Sign in instead."
        )
    # No password of ours: this person signs in through their organisation.
    user = User.objects.create(
        email=invitation.email.lower(), full_name=invitation.full_name, password=make_password(None)
    )
    for role in invitation.roles:
        membership_grant(
            user=user, organisation=invitation.organisation, role=role, by=invitation.created_by, request=request
        )
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    ProviderIdentity.objects.create(
        provider=provider, issuer=issuer, subject=subject, user=user, method=LinkMethod.INVITATION
    )
    audit_record(
        action=AuditAction.INVITATION_ACCEPTED,
        request=request,
        user=user,
        organisation=invitation.organisation,
        detail={"invitation_id": invitation.pk, "subject_user_id": user.pk, "provider_id": provider.pk},
    )
    audit_record(
        action=AuditAction.SSO_LINKED,
        request=request,
        user=user,
        organisation=provider.organisation,
        detail={"provider_id": provider.pk, "subject_user_id": user.pk, "method": LinkMethod.INVITATION},
    )
    return user


def _link_request(*, provider: IdentityProvider, issuer: str, subject: str, claims: dict, request: HttpRequest) -> None:
    """A verified e-mail address matching one of the organisation's active users asks an
    administrator to confirm the link; anything else is refused."""
    email = _claim(claims, provider.email_claim)
    if email is None or claims.get("email_verified") is not True:
        raise SignInRefused("unknown_identity", "")
    user = User.objects.filter(
        email__iexact=email, is_active=True, memberships__organisation=provider.organisation
    ).first()
    if user is None:
        raise SignInRefused("unknown_identity", "")
    try:
        with transaction.atomic():
            link, created = LinkRequest.objects.get_or_create(
                issuer=issuer, subject=subject, decided_at__isnull=True, defaults={"provider": provider, "user": user}
            )
    except IntegrityError:
        created = False
    if created:
        audit_record(
            action=AuditAction.SSO_LINK_REQUESTED,
            request=request,
            user=user,
            organisation=provider.organisation,
            detail={"provider_id": provider.pk, "link_request_id": link.pk},
        )


def identity_user(
    *, provider: IdentityProvider, claims: dict, invitation_token: str | None, request: HttpRequest
) -> tuple[User | None, str]:
    """The user this provider identity is, linking it first through an invitation. Returns
    (user, "") or (None, "link_requested"); raises SignInRefused for anyone else."""
    issuer = provider.issuer_normalised
    subject = _claim(claims, provider.subject_claim)
    if subject is None:
        raise SignInRefused("no_subject_claim", "")
    identity = ProviderIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        if invitation_token:
            raise SignInRefused(
                "identity_already_linked", "Your account is already set up. Sign in with your organisation instead."
            )
        if not identity.user.is_active:
            raise SignInRefused("user_inactive", "Your CP-IS account is not active.")
        return identity.user, ""
    if invitation_token:
        return _link_through_invitation(
            provider=provider, issuer=issuer, subject=subject, token=invitation_token, request=request
        ), ""
    _link_request(provider=provider, issuer=issuer, subject=subject, claims=claims, request=request)
    return None, "link_requested"


def sign_in_complete(
    *,
    request: CpisRequest,
    provider: IdentityProvider,
    user: User,
    two_factor: bool,
    tokens: dict,
    claims: dict,
    next_url: str | None = None,
) -> None:
    """Signs the user in (two_factor: the provider's assurance is the second factor) or leaves
    them pending for our own second factor, which goes on to `next_url` (a page of ours).
    Either way the session remembers the provider."""
    from accounts.views import pending_sign_in_start

    acr = _claim(claims, "acr")
    sso = {
        "provider_id": provider.pk,
        "user_id": user.pk,
        "issuer": provider.issuer_normalised,
        "sub": _claim(claims, "sub"),
        "sid": _claim(claims, "sid"),
        "refresh_token": tokens.get("refresh_token") if isinstance(tokens.get("refresh_token"), str) else None,
        "checked_at": int(time.time()),
    }
    audit_record(
        action=AuditAction.SSO_LOGIN,
        request=request,
        user=user,
        organisation=provider.organisation,
        detail={"provider_id": provider.pk, "two_factor": two_factor, "acr": acr or ""},
    )
    if not two_factor:
        pending_sign_in_start(request, user, next_url=next_url)
        request.session[SESSION_SSO] = sso
        return
    device, _ = ProviderAssuranceDevice.objects.get_or_create(
        user=user, provider=provider, defaults={"name": provider.name[:64], "confirmed": True}
    )
    request.session.cycle_key()
    auth_login(request, user, backend="accounts.backends.SessionUserBackend")
    otp_login(request, device)
    now = int(time.time())
    request.session["login_time"] = now
    request.session["last_activity"] = now
    request.session[SESSION_SSO] = sso
    audit_record(action=AuditAction.LOGIN, request=request, user=user, detail={"device": device.persistent_id})


def provider_sessions_end(
    *, provider: IdentityProvider, subject: str | None, sid: str | None, request: HttpRequest
) -> int:
    """Ends our sessions that the provider's back-channel logout names: one provider session
    (`sid`, of `subject` if given) or all of a person's (`subject` alone). Deleting the rows is
    enough: the next request finds no session. Returns how many ended."""
    sessions = UserSession.objects.filter(provider_issuer=provider.issuer_normalised)
    if subject:
        sessions = sessions.filter(provider_subject=subject)
        if sid:
            # A session whose ID token carried no sid can be told apart only by its subject.
            sessions = sessions.filter(Q(provider_sid=sid) | Q(provider_sid=""))
    else:
        sessions = sessions.filter(provider_sid=sid)
    with transaction.atomic():
        ended = list(sessions.select_for_update().values_list("session_key", "user_id"))
        UserSession.objects.filter(session_key__in=[key for key, _ in ended]).delete()
        users = User.objects.in_bulk({user_id for _, user_id in ended if user_id})
        for _, user_id in ended:
            audit_record(
                action=AuditAction.SSO_SESSION_ENDED,
                request=request,
                user=users.get(user_id),
                organisation=provider.organisation,
                detail={"provider_id": provider.pk, "reason": "back_channel_logout"},
            )
    return len(ended)


@transaction.atomic
def link_request_decide(*, link: LinkRequest, confirm: bool, by: User, request: HttpRequest | None = None) -> None:
    four_eyes_check(user=link.user, by=by, what="confirm a sign-in identity for")
    link = LinkRequest.objects.select_for_update().get(pk=link.pk)
    if link.decided_at is not None:
        raise ValidationError("Someone has already decided this request.")
    link.decided_at = timezone.now()
    link.decided_by = by
    link.confirmed = confirm
    link.save(update_fields=["decided_at", "decided_by", "confirmed"])
    if confirm:
        if ProviderIdentity.objects.filter(provider=link.provider, user=link.user).exists():
            raise ValidationError("This user already has a linked identity at this provider.")
        ProviderIdentity.objects.create(
            provider=link.provider,
            issuer=link.issuer,
            subject=link.subject,
            user=link.user,
            method=LinkMethod.EMAIL_CONFIRMED,
            linked_by=by,
        )
    audit_record(
        action=AuditAction.SSO_LINKED if confirm else AuditAction.SSO_LINK_DECLINED,
        request=request,
        user=by,
        organisation=link.provider.organisation,
        detail={
            "provider_id": link.provider_id,
            "subject_user_id": link.user_id,
            "link_request_id": link.pk,
            "method": LinkMethod.EMAIL_CONFIRMED,
        },
    )


@transaction.atomic
def provider_save(
    *, provider: IdentityProvider, by: User, changed: list[str], request: HttpRequest | None = None
) -> IdentityProvider:
    provider.updated_by = by
    provider.updated_at = timezone.now()
    provider.save()
    audit_record(
        action=AuditAction.SSO_PROVIDER_CHANGED,
        request=request,
        user=by,
        organisation=provider.organisation,
        # Names of the changed settings only: never the secret itself.
        detail={"provider_id": provider.pk, "changed": sorted(changed)},
    )
    return provider
