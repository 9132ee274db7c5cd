from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.home, name="home"),
    path("alerts/<int:alert_id>/", views.alert_detail, name="alert"),
    path("alerts/<int:alert_id>/investigate/", views.investigation_open_view, name="investigation_open"),
    path("alerts/<int:alert_id>/outcome/", views.alert_close_view, name="alert_close"),
    path("national/", views.national, name="national"),
    # POST only for a child: NHS numbers never go in URLs.
    path("who-has-looked/", views.access_report, name="access_report"),
    path("who-has-looked.csv", views.access_report_csv, name="access_report_csv"),
]
