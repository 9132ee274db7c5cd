"""Object access for alerts: the privacy officer's own organisation's, and the national admin's
escalated ones (about an organisation's only privacy officer); never an alert about oneself.
Anything else answers 404, like an alert that does not exist."""

from django.shortcuts import get_object_or_404

from accounts.models import Role
from privacy.models import Alert
from privacy.selectors import alerts_escalated


def access_alert_by_reviewer(request, alert_id: int) -> Alert:
    if Role.PRIVACY_OFFICER in request.roles:
        alerts = Alert.objects.filter(organisation=request.organisation)
    elif Role.NATIONAL_ADMIN in request.roles:
        alerts = alerts_escalated()
    else:
        alerts = Alert.objects.none()
    alerts = alerts.exclude(user=request.user)
    return get_object_or_404(alerts.select_related("user", "organisation", "investigated_by", "closed_by"), pk=alert_id)
