from django.urls import path

from fhir import api, views

app_name = "fhir"

urlpatterns = [
    path("R4/metadata", api.metadata, name="metadata"),
    path("R4/CareTeam", api.care_team_search, name="care_team_search"),
    path("R4/AuditEvent", api.audit_event_search, name="audit_event_search"),
    path("R4/<str:resource>", api.unknown_resource, name="unknown_resource"),
    path("tokens/", views.token_list, name="token_list"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
