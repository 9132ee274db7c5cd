from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report, name="report"),
    path("report.csv", views.report_csv, name="report_csv"),
    path("implementation-progress/", views.progress_public, name="progress_public"),
    path("implementation-progress/organisations/", views.progress_organisations, name="progress_organisations"),
    path("go-live/", views.go_live_checklist, name="go_live"),
]
