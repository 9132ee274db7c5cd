import pytest

from notifications.admin import WebhookEndpointForm

pytestmark = pytest.mark.django_db

GOOD_SECRET = "x" * 40


def test_webhook_endpoint_must_use_https_and_a_long_secret(la, settings, outbound_names):
    settings.DEBUG = False
    outbound_names.addresses["cms.la.example"] = ["151.101.1.69"]
    plain = WebhookEndpointForm({"local_authority": la.pk, "url": "http://cms.la.example/cpis", "secret": GOOD_SECRET})
    short = WebhookEndpointForm({"local_authority": la.pk, "url": "https://cms.la.example/cpis", "secret": "short"})
    good = WebhookEndpointForm({"local_authority": la.pk, "url": "https://cms.la.example/cpis", "secret": GOOD_SECRET})

    assert plain.errors["url"] == ["The webhook address must start with https://"]
    assert short.errors["secret"] == ["Use a random secret of at least 32 characters"]
    assert good.is_valid(), good.errors
