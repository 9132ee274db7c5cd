from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("health/", views.service_health_page, name="service_health"),
    path("deliveries/", views.la_deliveries_page, name="la_deliveries"),
    path("health/mesh/<int:organisation_id>/mailbox/", views.mesh_mailbox_edit, name="mesh_mailbox_edit"),
]
