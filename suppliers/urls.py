from django.urls import path

from suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("supplier-systems/", views.public_list, name="public_list"),
    path("admin/supplier-systems/", views.register, name="register"),
    path("admin/supplier-systems/new/", views.system_create, name="system_create"),
    path("admin/supplier-systems/<int:system_id>/", views.system_detail, name="system_detail"),
    path("admin/supplier-systems/<int:system_id>/edit/", views.system_edit, name="system_edit"),
    path("admin/supplier-systems/<int:system_id>/withdraw/", views.system_withdraw, name="system_withdraw"),
    path("admin/supplier-systems/<int:system_id>/runs/", views.run_open, name="run_open"),
    path("admin/conformance-runs/<int:run_id>/", views.run_report_view, {"kind": views.FHIR_RUN}, name="run_report"),
    path("admin/conformance-runs/<int:run_id>/print/", views.run_print, {"kind": views.FHIR_RUN}, name="run_print"),
    path(
        "admin/conformance-runs/<int:run_id>/accredit/",
        views.run_accredit,
        {"kind": views.FHIR_RUN},
        name="run_accredit",
    ),
    path("admin/conformance-runs/<int:run_id>/finish/", views.run_finish, {"kind": views.FHIR_RUN}, name="run_finish"),
    path("admin/supplier-systems/<int:system_id>/la-runs/", views.la_run_open, name="la_run_open"),
    path(
        "admin/la-conformance-runs/<int:run_id>/", views.run_report_view, {"kind": views.LA_RUN}, name="la_run_report"
    ),
    path("admin/la-conformance-runs/<int:run_id>/print/", views.run_print, {"kind": views.LA_RUN}, name="la_run_print"),
    path(
        "admin/la-conformance-runs/<int:run_id>/accredit/",
        views.run_accredit,
        {"kind": views.LA_RUN},
        name="la_run_accredit",
    ),
    path(
        "admin/la-conformance-runs/<int:run_id>/finish/", views.run_finish, {"kind": views.LA_RUN}, name="la_run_finish"
    ),
    path(
        "admin/organisations/<int:organisation_id>/supplier-systems/",
        views.organisation_systems,
        name="organisation_systems",
    ),
    path("conformance/la/<str:key>/", views.supplier_la_run, name="supplier_la_run"),
    path("conformance/<str:key>/", views.supplier_run, name="supplier_run"),
]
