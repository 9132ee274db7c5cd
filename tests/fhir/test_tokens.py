import pytest
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from core.tokens import token_hash
from fhir.models import ApiToken

pytestmark = pytest.mark.django_db


def test_trained_clinician_creates_a_token_shown_once_and_stored_hashed(role_user, client_for):
    user = role_user("clinician")
    client = client_for(user)
    response = client.post(reverse("fhir:token_list"), {"name": "ED record system", "valid_days": "30"})
    assert response.status_code == 302
    page = client.get(reverse("fhir:token_list")).content.decode()
    token = ApiToken.objects.get(user=user)
    raw = page.split('data-testid="new-token">')[1].split("<")[0]
    assert raw.startswith("cpis_") and token.hashed == token_hash(raw)
    assert raw not in str(ApiToken.objects.filter(user=user).values())
    # Never again.
    assert raw not in client.get(reverse("fhir:token_list")).content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.API_TOKEN_ISSUED, user=user).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "valid_days": "30"}, "Enter a name for the token"),
        ({"name": "x", "valid_days": "0"}, "The token must work for at least 1 day"),
        ({"name": "x", "valid_days": "9999"}, "A token can work for at most 365 days"),
        ({"name": "x", "valid_days": "ninety"}, "Enter a whole number of days, like 90"),
        ({"name": "x" * 101, "valid_days": "30"}, "Ensure this value has at most 100 characters"),
    ],
)
def test_bad_token_form_shows_the_error_summary(role_user, client_for, data, message):
    response = client_for(role_user("clinician")).post(reverse("fhir:token_list"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and message in page
    assert not ApiToken.objects.exists()


def test_untrained_user_cannot_create_tokens(role_user, client_for):
    response = client_for(role_user("clinician", trained=False)).post(
        reverse("fhir:token_list"), {"name": "x", "valid_days": "30"}
    )
    assert response.status_code == 403 and not ApiToken.objects.exists()


def test_revoking_someone_elses_token_is_not_found(role_user, client_for):
    owner, other = role_user("clinician"), role_user("clinician")
    client_for(owner).post(reverse("fhir:token_list"), {"name": "mine", "valid_days": "30"})
    token = ApiToken.objects.get(user=owner)
    assert client_for(other).post(reverse("fhir:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    client_for(owner).post(reverse("fhir:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_last_use_is_recorded_at_most_once_a_minute(role_user, client_for, care_setting):
    import datetime as dt

    from django.utils import timezone

    from fhir.services import api_token_issue

    user = role_user("clinician", care_setting)
    token, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=1)

    def call():
        return client_for(user).get(
            "/fhir/R4/CareTeam",
            {"patient:identifier": "https://fhir.nhs.uk/Id/nhs-number|9434765919"},
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )

    assert call().status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    call()
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - dt.timedelta(minutes=5))
    call()
    token.refresh_from_db()
    assert token.last_used_at > timezone.now() - dt.timedelta(seconds=30)
