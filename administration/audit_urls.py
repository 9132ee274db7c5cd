from django.urls import path

from administration.audit_log import views

app_name = "audit"

urlpatterns = [
    path("", views.events, name="events"),
    path("export.csv", views.events_csv, name="events_csv"),
]
