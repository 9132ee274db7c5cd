import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "cpis_"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, *, now=None) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class ApiToken(models.Model):
    """A personal bearer token for the FHIR API. Only its hash is stored; the value is shown once.

    It acts as its owner at `organisation` with whatever roles the owner holds there *now*, so
    removing a role, deactivating the owner or their training expiring stops it at once.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    hashed = models.CharField(max_length=64, unique=True)
    # The first characters after the prefix, shown in lists so people can tell tokens apart.
    hint = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.hint}…)"

    @staticmethod
    def generate(marker: str = "") -> str:
        # A marker (a conformance run's, suppliers/) lets a middleware pass every other token
        # by with a string comparison; the value is still only ever matched by its hash.
        return TOKEN_PREFIX + marker + secrets.token_urlsafe(32)

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
