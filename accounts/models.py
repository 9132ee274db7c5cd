from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OrganisationKind(models.TextChoices):
    LOCAL_AUTHORITY = "local_authority", "Local authority"
    CARE_SETTING = "care_setting", "NHS care setting"
    NATIONAL = "national", "National"


class SettingType(models.TextChoices):
    ED = "ED", "Emergency department"
    MIU = "MIU", "Minor injury unit"
    WIC = "WIC", "Walk-in centre"
    UTC = "UTC", "Urgent treatment centre"
    OOH = "OOH", "GP out of hours"
    MATERNITY = "maternity", "Maternity unit"
    AMBULANCE = "ambulance", "Ambulance service"
    NHS111 = "111", "NHS 111"
    PAEDIATRIC_WARD = "paediatric_ward", "Paediatric ward"


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    SAFEGUARDING_LEAD = "safeguarding_lead", "Safeguarding lead"
    SOCIAL_WORKER = "social_worker", "Social worker"
    PLAN_MANAGER = "plan_manager", "Plan manager"
    ORG_ADMIN = "org_admin", "Organisation administrator"
    NATIONAL_ADMIN = "national_admin", "National administrator"
    # Reviews the organisation's access-pattern alerts and answers families' "who looked" requests
    # (privacy/); sees NHS numbers and staff names, so it is a child-data role.
    PRIVACY_OFFICER = "privacy_officer", "Privacy officer"


# Roles that show child data, and so sit behind the trained-user gate. Admin roles never do.
CHILD_DATA_ROLES = frozenset(
    {Role.CLINICIAN, Role.SAFEGUARDING_LEAD, Role.SOCIAL_WORKER, Role.PLAN_MANAGER, Role.PRIVACY_OFFICER}
)

ROLES_BY_KIND = {
    OrganisationKind.CARE_SETTING: frozenset(
        {Role.CLINICIAN, Role.SAFEGUARDING_LEAD, Role.ORG_ADMIN, Role.PRIVACY_OFFICER}
    ),
    OrganisationKind.LOCAL_AUTHORITY: frozenset(
        {Role.SOCIAL_WORKER, Role.PLAN_MANAGER, Role.ORG_ADMIN, Role.PRIVACY_OFFICER}
    ),
    OrganisationKind.NATIONAL: frozenset({Role.NATIONAL_ADMIN, Role.ORG_ADMIN}),
}

ods_code_validator = RegexValidator(r"^[A-Z0-9]{3,10}$", "Enter an ODS code of 3 to 10 upper-case letters and digits")
phone_validator = RegexValidator(r"^\+?[0-9][0-9 ]{5,18}[0-9]$", "Enter a telephone number, like 020 7946 0000")


class Region(models.TextChoices):
    """NHS England's seven regions, for the published implementation progress."""

    NORTH_EAST_YORKSHIRE = "north_east_yorkshire", "North East and Yorkshire"
    NORTH_WEST = "north_west", "North West"
    MIDLANDS = "midlands", "Midlands"
    EAST_OF_ENGLAND = "east_of_england", "East of England"
    LONDON = "london", "London"
    SOUTH_EAST = "south_east", "South East"
    SOUTH_WEST = "south_west", "South West"


class Organisation(models.Model):
    ods_code = models.CharField("ODS code", max_length=10, unique=True, validators=[ods_code_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    setting_type = models.CharField(max_length=20, choices=SettingType.choices, blank=True)
    # Blank until the national admin sets it; the public progress page counts it as "not set".
    region = models.CharField(max_length=30, choices=Region.choices, blank=True)
    phone = models.CharField("telephone", max_length=20, blank=True, validators=[phone_validator])
    office_hours_phone = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    emergency_duty_phone = models.CharField(max_length=20, blank=True, validators=[phone_validator])
    team_mailbox = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    # Made for a supplier's conformance run (suppliers/): a synthetic care setting sees only
    # synthetic local authorities' plans of test-range numbers, and nobody else sees those
    # (plans.models.PlanQuerySet.seen_from; docs/adr/ADR-023-conformance-runs.md). A database
    # default, so the release before this one can still insert organisations.
    is_synthetic = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="organisation_ods_code_format",
                condition=Q(ods_code__regex=r"^[A-Z0-9]{3,10}$"),
            ),
            models.CheckConstraint(
                name="organisation_setting_type_only_for_care_settings",
                condition=(Q(kind=OrganisationKind.CARE_SETTING) & ~Q(setting_type=""))
                | (~Q(kind=OrganisationKind.CARE_SETTING) & Q(setting_type="")),
            ),
            # Clinicians phone this number when a child on a plan turns up out of hours.
            models.CheckConstraint(
                name="organisation_la_has_emergency_duty_phone",
                condition=~Q(kind=OrganisationKind.LOCAL_AUTHORITY) | ~Q(emergency_duty_phone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"

    @property
    def is_local_authority(self) -> bool:
        return self.kind == OrganisationKind.LOCAL_AUTHORITY

    @property
    def is_care_setting(self) -> bool:
        return self.kind == OrganisationKind.CARE_SETTING


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    # Django admin access (operators only); unrelated to CP-IS roles.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name

    def current_training(self, *, today: date | None = None) -> "TrainingRecord | None":
        today = today or timezone.localdate()
        return self.training_records.filter(expires_on__gte=today).order_by("-expires_on").first()


class Membership(models.Model):
    """One role a user holds at one organisation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=30, choices=Role.choices)
    granted_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation", "role"], name="membership_unique_role"),
        ]
        indexes = [
            # Used to list an organisation's users with a role (e.g. who to ask at the gate).
            models.Index(fields=["organisation", "role"], name="membership_org_role_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} at {self.organisation.name}"


def _training_expiry(completed_on: date) -> date:
    return completed_on + timedelta(days=settings.TRAINING_VALIDITY_DAYS)


class TrainingRecord(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="training_records")
    course = models.CharField(max_length=200)
    completed_on = models.DateField()
    expires_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="training_expires_after_completion", condition=Q(expires_on__gt=models.F("completed_on"))
            ),
        ]
        indexes = [models.Index(fields=["user", "-expires_on"], name="training_user_expiry_idx")]

    def __str__(self) -> str:
        return f"{self.course}, completed {self.completed_on:%d/%m/%Y}"

    def save(self, *args, **kwargs):
        if not self.expires_on:
            self.expires_on = _training_expiry(self.completed_on)
        super().save(*args, **kwargs)


class UserSession(AbstractBaseSession):
    """A database session that knows its user, so deactivation can end all of them at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, db_index=True, related_name="+")
    # Who the session's identity provider says this is (single sign-on only), so the provider's
    # back-channel logout can find the sessions to end without decoding every session.
    provider_issuer = models.CharField(max_length=300, blank=True)
    provider_subject = models.CharField(max_length=255, blank=True)
    provider_sid = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "session"
        verbose_name_plural = "sessions"
        indexes = [
            models.Index(
                fields=["provider_issuer", "provider_subject"],
                name="session_provider_subject_idx",
                condition=~models.Q(provider_issuer=""),
            ),
            models.Index(
                fields=["provider_issuer", "provider_sid"],
                name="session_provider_sid_idx",
                condition=~models.Q(provider_sid=""),
            ),
        ]

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore


class SignedInVersion(models.Model):
    """How many times anything a signed-in page reads about a user has changed: their row,
    memberships, training, TOTP devices or the organisations they belong to.

    Each request reads it with the session, in the same query, and the memberships and device
    kept for the user in each worker (accounts/signed_in.py) are used only under the version
    they were read at. Bumped in the transaction of the change (accounts/signed_in.py's
    receivers), so the next request after a commit reads the new rows. A table of its own,
    written only by that `UPDATE`: a version on the user's row would be written back, older,
    by any save of a user instance read before the bump.
    """

    # No foreign key: deleting a user deletes their memberships first, and each deletion bumps
    # this row, which a key would then stop the user's own deletion for. A deleted user's row
    # is left behind, a few bytes that nothing reads.
    user_id = models.BigIntegerField(primary_key=True)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"user {self.user_id}: version {self.version}"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def pending(self) -> "InvitationQuerySet":
        """Not yet accepted or cancelled (an expired one is still pending: the page says so)."""
        return self.filter(accepted_at__isnull=True, cancelled_at__isnull=True)


class Invitation(models.Model):
    """An org admin's e-mailed invitation: a single-use link that expires.

    Only the SHA-256 of the token is stored, so a copy of the database cannot be used to
    accept someone else's invitation.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=200)
    # Role values (a list) granted at `organisation` when the invitation is accepted.
    roles = models.JSONField(default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()
    # Not stored: set on the instance when its e-mail could not be sent, so the page that sent it
    # says so (administration.services); the views read it with a False default.
    email_failed: bool = False

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Inviting the same person again replaces the earlier link (the service cancels it).
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=Q(accepted_at__isnull=True, cancelled_at__isnull=True),
                name="invitation_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organisation.name}"

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in self.roles]


class AccessReview(models.Model):
    """An org admin's record that they reviewed who has access to their organisation.

    Kept as written at the time (the reviewer's name too), like a visit: the dashboard shows when
    the last one was done even if the reviewer has left.
    """

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="access_reviews")
    reviewed_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    reviewed_by_name = models.CharField(max_length=200)
    reviewed_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=500, blank=True)
    # How many users the page listed when the review was recorded.
    users_listed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        indexes = [
            # The dashboard's and the review page's "last review of this organisation".
            models.Index(fields=["organisation", "-reviewed_at"], name="access_review_org_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Access review of {self.organisation.name} on {self.reviewed_at:%Y-%m-%d}"

    @property
    def is_overdue(self) -> bool:
        return self.reviewed_at < timezone.now() - timedelta(days=ACCESS_REVIEW_DUE_DAYS)


# An access review older than this is flagged on the org admin's dashboard.
ACCESS_REVIEW_DUE_DAYS = 90
