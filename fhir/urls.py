from django.urls import path, re_path

from fhir import api, views

app_name = "fhir"

urlpatterns = [
    path("R4/metadata", api.metadata, name="metadata"),
    path("R4/CareTeam", api.care_team_search, name="care_team_search"),
    path("R4/AuditEvent", api.audit_event_search, name="audit_event_search"),
    path("R4/PatientFlag", api.patient_flag_search, name="patient_flag_search"),
    path("R4/Flag", api.patient_flag_search, name="flag_search"),
    re_path(
        r"^R4/(?P<resource>CareTeam|AuditEvent|PractitionerRole|Flag|CarePlan)/(?P<resource_id>[^/]+)$",
        api.resource_read,
        name="resource_read",
    ),
    # Anything else under the base (unknown types, trailing slashes, other interactions) is
    # answered as FHIR, never with an HTML page.
    re_path(r"^R4/(?P<resource>.*)$", api.unknown_resource, name="unknown_resource"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
