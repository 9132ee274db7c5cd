"""Object access for alerts: the privacy officer's own organisation only, and never an alert
about themself. Anything else answers 404, like an alert that does not exist."""

from django.shortcuts import get_object_or_404

from privacy.models import Alert


def access_alert_by_privacy_officer(request, alert_id: int) -> Alert:
    alerts = Alert.objects.filter(organisation=request.organisation).exclude(user=request.user)
    return get_object_or_404(alerts.select_related("user", "organisation", "investigated_by", "closed_by"), pk=alert_id)
